package store

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/vbatts/tar-split/tar/asm"
	tarsplit "github.com/vbatts/tar-split/tar/storage"
)

// layerTar is a tar stream with the kinds of entries layers hold, long
// names (PAX), empty and odd-sized files, and extra padding at the end.
func layerTar(t *testing.T, padding int) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	rng := rand.New(rand.NewPCG(1, 2))
	add := func(h *tar.Header, data []byte) {
		h.Size = int64(len(data))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	content := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	add(&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	add(&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755, Uid: 0}, nil)
	add(&tar.Header{Name: "etc/empty", Typeflag: tar.TypeReg, Mode: 0o644}, nil)
	add(&tar.Header{Name: "etc/odd", Typeflag: tar.TypeReg, Mode: 0o600, Uid: 1000, Gid: 1000}, content(513))
	add(&tar.Header{Name: "etc/big", Typeflag: tar.TypeReg, Mode: 0o644, Uid: 65534}, content(300<<10))
	add(&tar.Header{Name: "etc/" + strings.Repeat("long", 60), Typeflag: tar.TypeReg, Mode: 0o644}, content(10))
	add(&tar.Header{Name: "etc/link", Typeflag: tar.TypeSymlink, Linkname: "odd"}, nil)
	add(&tar.Header{Name: "etc/hard", Typeflag: tar.TypeLink, Linkname: "etc/odd"}, nil)
	add(&tar.Header{Name: "etc/.wh.gone", Typeflag: tar.TypeReg, Uid: 4242}, nil)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	buf.Write(make([]byte, padding))
	return buf.Bytes()
}

// The splitter passes the stream through unchanged and packs exactly what
// tar-split's own disassembler packs, so that containers/storage rebuilds
// the same tar from it.
func TestSplitterMatchesTarSplit(t *testing.T) {
	for _, padding := range []int{0, 512, 3 << 20} {
		layer := layerTar(t, padding)

		var want bytes.Buffer
		r, done, err := asm.NewInputTarStreamWithDone(bytes.NewReader(layer), tarsplit.NewJSONPacker(&want), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}

		var got bytes.Buffer
		sp := newSplitter(iotestHalf{bytes.NewReader(layer)}, tarsplit.NewJSONPacker(&got))
		through, err := io.ReadAll(sp)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(through, layer) {
			t.Fatalf("padding %d: the stream changed on the way through", padding)
		}
		if sp.n != int64(len(layer)) {
			t.Errorf("padding %d: size %d, want %d", padding, sp.n, len(layer))
		}
		// Padding beyond the marker is packed in pieces as reads return
		// it, so only a short padding packs identically; the rebuilt
		// tar must be identical always.
		if padding <= 512 && !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("padding %d: tar-split differs from asm's:\n got %.300s\nwant %.300s", padding, got.String(), want.String())
		}
		if rebuilt := rebuild(t, layer, got.Bytes()); !bytes.Equal(rebuilt, layer) {
			t.Fatalf("padding %d: the tar rebuilt from the tar-split differs (%d bytes, want %d)", padding, len(rebuilt), len(layer))
		}
		uids, gids := keys(sp.uids), keys(sp.gids)
		slices.Sort(uids)
		slices.Sort(gids)
		if !slices.Equal(uids, []uint32{0, 1000, 65534}) || !slices.Equal(gids, []uint32{0, 1000}) {
			t.Errorf("owners: uids %v gids %v (the whiteout's 4242 must not count)", uids, gids)
		}
		if sp.root == nil {
			t.Errorf("the root entry ./ was not noted")
		}
	}
}

// rebuild reassembles a tar from its tar-split and the files' contents, as
// containers/storage does for a layer's diff.
func rebuild(t *testing.T, layer, split []byte) []byte {
	t.Helper()
	files := tarsplit.NewBufferFileGetPutter()
	tr := tar.NewReader(bytes.NewReader(layer))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := files.Put(h.Name, tr); err != nil {
			t.Fatal(err)
		}
	}
	out := asm.NewOutputTarStream(files, tarsplit.NewJSONUnpacker(bytes.NewReader(split)))
	defer out.Close()
	b, err := io.ReadAll(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A stream cut short fails the read; it never ends as a clean EOF.
func TestSplitterTruncated(t *testing.T) {
	layer := layerTar(t, 0)
	sp := newSplitter(bytes.NewReader(layer[:len(layer)/2]), tarsplit.NewJSONPacker(io.Discard))
	if _, err := io.ReadAll(sp); err == nil {
		t.Fatal("a truncated tar read to the end without an error")
	}
}

// iotestHalf returns at most half of what is asked, so that the splitter
// sees short reads.
type iotestHalf struct{ r io.Reader }

func (h iotestHalf) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:len(p)/2]
	}
	return h.r.Read(p)
}

// readAhead hands on the stream unchanged, and its source's failure after
// the data.
func TestReadAhead(t *testing.T) {
	layer := layerTar(t, 4096)
	a := readAhead(iotestHalf{bytes.NewReader(layer)}, 1000, 3)
	got, err := io.ReadAll(a)
	a.Close()
	if err != nil || !bytes.Equal(got, layer) {
		t.Fatalf("read %d bytes (err %v), want %d unchanged", len(got), err, len(layer))
	}
	boom := errors.New("boom")
	a = readAhead(io.MultiReader(bytes.NewReader(layer[:2500]), iotest.ErrReader(boom)), 1000, 3)
	got, err = io.ReadAll(a)
	a.Close()
	if !errors.Is(err, boom) || !bytes.Equal(got, layer[:2500]) {
		t.Fatalf("read %d bytes, err %v: want 2500 and boom", len(got), err)
	}
	// Closed early, it stops reading.
	a = readAhead(bytes.NewReader(layer), 1000, 3)
	a.Close()
}
