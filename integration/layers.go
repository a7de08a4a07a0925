package integration

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Entry is one tar entry of a generated layer. Body, when set, writes
// Hdr.Size bytes; otherwise Data is the content.
type Entry struct {
	Hdr  tar.Header
	Data []byte
	Body func(w io.Writer) error
}

var epoch = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// Dir, File, Symlink, Hardlink build entries owned by uid/gid.
func Dir(name string, mode int64, uid, gid int) Entry {
	return Entry{Hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, Uid: uid, Gid: gid, ModTime: epoch}}
}

func File(name string, mode int64, uid, gid int, data string) Entry {
	return Entry{Hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Uid: uid, Gid: gid, Size: int64(len(data)), ModTime: epoch}, Data: []byte(data)}
}

func Symlink(name, target string) Entry {
	return Entry{Hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: epoch}}
}

func Hardlink(name, target string) Entry {
	return Entry{Hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, Mode: 0o644, ModTime: epoch}}
}

// Generated is a regular file whose size bytes come from gen, written as
// the tar is read: big files are never held in memory.
func Generated(name string, size int64, gen func(w io.Writer) error) Entry {
	return Entry{Hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: size, ModTime: epoch}, Body: gen}
}

// Zeros writes n zero bytes.
func Zeros(n int64) func(w io.Writer) error {
	return func(w io.Writer) error {
		buf := make([]byte, 1<<20)
		for left := n; left > 0; {
			k := min(left, int64(len(buf)))
			if _, err := w.Write(buf[:k]); err != nil {
				return err
			}
			left -= k
		}
		return nil
	}
}

// TarLayer is a gzip layer of entries. The tar streams through gzip once,
// so a big file of zeros never sits in memory; the compressed bytes are kept
// for the digest and each push.
func TarLayer(entries []Entry) (v1.Layer, error) {
	var buf bytes.Buffer
	if err := WriteLayer(&buf, entries); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}

// WriteLayer writes entries as a gzip-compressed tar.
func WriteLayer(w io.Writer, entries []Entry) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	if err := writeTar(zw, entries); err != nil {
		return err
	}
	return zw.Close()
}

func writeTar(w io.Writer, entries []Entry) error {
	tw := tar.NewWriter(w)
	for _, e := range entries {
		hdr := e.Hdr
		if err := tw.WriteHeader(&hdr); err != nil {
			return err
		}
		switch {
		case e.Body != nil:
			if err := e.Body(tw); err != nil {
				return err
			}
		case len(e.Data) > 0:
			if _, err := tw.Write(e.Data); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}
