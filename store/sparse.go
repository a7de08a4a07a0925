package store

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Layers keep their holes. containers/storage's extractor copies every
// byte of a file's content, zeros included, and has no option to skip them,
// so a 1 GiB sparse file (or a 1 GiB run of zeros) would take a GiB of the
// store. sparser sits between the tar stream and the extractor: each large
// regular file is written here by writeSparse, which leaves a hole for every
// zero block, under a name of its own in the layer's root; the extractor is
// given a hard link to it in the file's place, and so sets its owner, mode,
// times and xattrs as for any file (nothing writes the file after them,
// which would drop a setuid bit or a file capability). The names are
// removed once the layer is unpacked. GNU and PAX sparse entries, which
// archive/tar reads with their holes as zeros, take the same way; the
// extractor itself refuses the old GNU sparse type.

// sparseMin is the size from which a file's content is written here.
const sparseMin = 1 << 20

// holeBlock is the unit of a hole: a zero block of this size is not written.
const holeBlock = 4096

var zeroBlock [holeBlock]byte

// sparser re-encodes a layer's tar stream for the extractor.
type sparser struct {
	tr      *tar.Reader
	tw      *tar.Writer
	out     bytes.Buffer
	dir     string   // the layer's root, as the caller sees it
	prefix  string   // of the names written here, unique to this unpack
	made    []string // those names, to remove once unpacked
	copying bool     // inside the content of an entry passed through
	buf     []byte
	copyBuf []byte // for content passed through
	err     error  // sticky
}

func newSparser(r io.Reader, dir string) *sparser {
	var b [6]byte
	_, _ = rand.Read(b[:])
	s := &sparser{tr: tar.NewReader(r), dir: dir, prefix: ".husk-sparse-" + hex.EncodeToString(b[:]) + "-",
		copyBuf: make([]byte, 32<<10)}
	s.tw = tar.NewWriter(&s.out)
	return s
}

func (s *sparser) Read(p []byte) (int, error) {
	for s.out.Len() == 0 && s.err == nil {
		s.err = s.step()
	}
	if s.out.Len() > 0 {
		return s.out.Read(p)
	}
	return 0, s.err
}

// step re-encodes one header, or passes on a piece of an entry's content.
func (s *sparser) step() error {
	if s.copying {
		// io.CopyN would take a new buffer for each call, and so for
		// every file of the layer.
		const limit = 1 << 20
		n, err := io.CopyBuffer(s.tw, io.LimitReader(s.tr, limit), s.copyBuf)
		if err == nil && n < limit {
			s.copying = false // the entry's content is all passed on
		}
		return err
	}
	hdr, err := s.tr.Next()
	if err == io.EOF {
		if err := s.tw.Close(); err != nil {
			return err
		}
		return io.EOF
	}
	if err != nil {
		return err
	}
	hdr.Format = tar.FormatUnknown // the writer picks one that holds the header
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			delete(hdr.PAXRecords, k) // the map is read: the content is whole
		}
	}
	if hdr.Typeflag == tar.TypeGNUSparse {
		hdr.Typeflag = tar.TypeReg
	}
	if hdr.Typeflag == tar.TypeReg && hdr.Size >= sparseMin {
		name := fmt.Sprintf("%s%d", s.prefix, len(s.made))
		if s.buf == nil {
			s.buf = make([]byte, 1<<20) // only a layer with a large file needs it
		}
		if err := writeSparse(filepath.Join(s.dir, name), s.tr, hdr.Size, s.buf); err != nil {
			return fmt.Errorf("writing %s: %w", hdr.Name, err)
		}
		s.made = append(s.made, name)
		hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, name, 0
		return s.tw.WriteHeader(hdr)
	}
	s.copying = true
	return s.tw.WriteHeader(hdr)
}

// removeLinks removes the names the files were written under; the files
// stay under their own.
func (s *sparser) removeLinks() error {
	for _, name := range s.made {
		if err := os.Remove(filepath.Join(s.dir, name)); err != nil {
			return err
		}
	}
	s.made = nil
	return nil
}

// writeSparse writes the size bytes of r to a new file at path, with a hole
// wherever a whole block is zero: blocks are written where they belong
// (WriteAt), zero ones skipped, and the size set at the end.
func writeSparse(path string, r io.Reader, size int64, buf []byte) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	for off := int64(0); off < size; {
		n, err := io.ReadFull(r, buf[:min(int64(len(buf)), size-off)])
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if err := writeNonZero(f, buf[:n], off); err != nil {
			return err
		}
		off += int64(n)
	}
	return f.Truncate(size)
}

// writeNonZero writes the runs of b's blocks that are not all zero at off.
func writeNonZero(f *os.File, b []byte, off int64) error {
	isZero := func(i int) bool {
		j := min(i+holeBlock, len(b))
		return bytes.Equal(b[i:j], zeroBlock[:j-i])
	}
	for i := 0; i < len(b); {
		if isZero(i) {
			i += holeBlock
			continue
		}
		j := i + holeBlock
		for j < len(b) && !isZero(j) {
			j += holeBlock
		}
		j = min(j, len(b))
		if _, err := f.WriteAt(b[i:j], off+int64(i)); err != nil {
			return err
		}
		i = j
	}
	return nil
}
