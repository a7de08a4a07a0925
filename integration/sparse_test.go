package integration

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Layers with a 1 GiB sparse file (GNU tar's PAX and GNU sparse formats) and one
// with a plain 1 GiB entry of zeros, each ending in one byte "x", are
// stored with their holes: each file takes a few blocks of the store, and
// reads back whole (issue 19, item 1).
func TestSparseLayerKeepsHoles(t *testing.T) {
	const size = 1 << 30
	src := t.TempDir()
	// GNU tar writes both sparse formats: PAX 1.0, and the old GNU type.
	var sparseLayers []v1.Layer
	for _, format := range []string{"pax", "gnu"} {
		f, err := os.Create(filepath.Join(src, format))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte("x"), size-1); err != nil {
			t.Fatal(err)
		}
		f.Close()
		tarData, err := exec.Command("tar", "--sparse", "--format="+format, "--owner=0", "--group=0", "-cf", "-", "-C", src, format).Output()
		if err != nil {
			t.Fatalf("tar --sparse --format=%s: %v", format, err)
		}
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(tarData)
		zw.Close()
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(gz.Bytes())), nil })
		if err != nil {
			t.Fatal(err)
		}
		sparseLayers = append(sparseLayers, l)
	}
	zerosLayer, err := TarLayer([]Entry{Generated("zeros", size, func(w io.Writer) error {
		if err := Zeros(size - 1)(w); err != nil {
			return err
		}
		_, err := w.Write([]byte("x"))
		return err
	})})
	if err != nil {
		t.Fatal(err)
	}
	base, err := BusyboxImage()
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(base, append(sparseLayers, zerosLayer)...)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.Config(img, v1.Config{Cmd: []string{"sh"}})
	if err != nil {
		t.Fatal(err)
	}
	repo := "sparse-" + randomHex(4) + ":latest"
	if err := plain.Push(repo, img); err != nil {
		t.Fatal(err)
	}

	e := sandboxEnv(t, "")
	e.vars["HUSK_LAYER_EXPANSION"] = "4096" // a GiB from a blob of a few hundred bytes is over the default
	e.pull(plain.Ref(repo))
	out := e.sbxOut([]string{"--rm"}, plain.Ref(repo), "sh", "-c",
		`for f in /pax /gnu /zeros; do echo "$f $(stat -c '%s %b %B' $f) $(tail -c 1 $f)"; done`)
	for _, l := range lines(out) {
		var name, last string
		var n, blocks, unit int64
		if _, err := fmt.Sscan(l, &name, &n, &blocks, &unit, &last); err != nil {
			t.Fatalf("stat in the container: %q: %v", out, err)
		}
		if n != size || last != "x" {
			t.Errorf("%s: size %d, last byte %q; want %d and x", name, n, last, size)
		}
		if blocks*unit > 1<<20 {
			t.Errorf("%s takes %d bytes of the store: its holes were written", name, blocks*unit)
		}
	}
	if len(lines(out)) != 3 {
		t.Errorf("want three files stat'ed: %q", out)
	}
	if strings.Contains(out, ".husk-sparse") {
		t.Errorf("a link of the unpacking was left: %q", out)
	}
	if ls := e.sbxOut([]string{"--rm"}, plain.Ref(repo), "ls", "-a", "/"); strings.Contains(ls, ".husk-sparse") {
		t.Errorf("a link of the unpacking was left in the image: %q", ls)
	}
	e.noLeftovers()
}
