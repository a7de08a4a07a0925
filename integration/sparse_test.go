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
	"syscall"
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
	push := func(name string, layers ...v1.Layer) string {
		img, err := mutate.AppendLayers(base, layers...)
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.Config(img, v1.Config{Cmd: []string{"sh"}}); err != nil {
			t.Fatal(err)
		}
		repo := name + "-" + randomHex(4) + ":latest"
		if err := plain.Push(repo, img); err != nil {
			t.Fatal(err)
		}
		return plain.Ref(repo)
	}
	all := push("sparse", append(sparseLayers, zerosLayer)...)
	// vfs unpacks with containers/storage's extractor, which has no case
	// for the old GNU type: that layer is refused there by name.
	noGNU := push("sparse-nognu", sparseLayers[0], zerosLayer)
	gnuOnly := push("sparse-gnu", sparseLayers[1])

	// Each strategy: overlay's layers are unpacked with their holes; vfs
	// copies each layer's parent and each container's image, and punches
	// the holes back.
	for _, strategy := range []string{"overlay", "vfs"} {
		t.Run(strategy, func(t *testing.T) {
			e := sandboxEnv(t, strategy)
			root := filepath.Join(e.home, "root")
			e.vars["HUSK_ROOT"] = root
			e.vars["HUSK_LAYER_EXPANSION"] = "4096" // a GiB from a blob of a few hundred bytes is over the default
			ref, files := all, []string{"/pax", "/gnu", "/zeros"}
			if strategy == "vfs" {
				e.wantFault(e.run("pull", gnuOnly), `"gnu" is an old GNU sparse file`, "--storage-driver overlay")
				ref, files = noGNU, []string{"/pax", "/zeros"}
			}
			e.pull(ref)
			checkHoles(t, e, ref, files...)
			e.noLeftovers()
			if used := storeBytes(root); used > 64<<20 {
				t.Errorf("the store takes %d MiB for sparse GiB files and busybox", used>>20)
			}
		})
	}
}

// checkHoles stats files of size 1 GiB ending in "x" in a container of
// ref: each reads whole and takes a few blocks.
func checkHoles(t *testing.T, e *env, ref string, files ...string) {
	t.Helper()
	const size = 1 << 30
	out := e.sbxOut([]string{"--rm"}, ref, append([]string{"sh", "-c",
		`for f in "$@"; do echo "$f $(stat -c '%s %b %B' $f) $(tail -c 1 $f)"; done`, "sh"}, files...)...)
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
	if len(lines(out)) != len(files) {
		t.Errorf("want %d files stat'ed: %q", len(files), out)
	}
	if strings.Contains(out, ".husk-sparse") {
		t.Errorf("a link of the unpacking was left: %q", out)
	}
	if ls := e.sbxOut([]string{"--rm"}, ref, "ls", "-a", "/"); strings.Contains(ls, ".husk-sparse") {
		t.Errorf("a link of the unpacking was left in the image: %q", ls)
	}
}

// storeBytes is what the files under root take on disk (what the test's
// user can see of them).
func storeBytes(root string) int64 {
	var total int64
	_ = filepath.Walk(root, func(_ string, fi os.FileInfo, err error) error {
		if err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				total += st.Blocks * 512
			}
		}
		return nil
	})
	return total
}

// husk build keeps holes too: a sparse file of the context COPY'd, and one
// a RUN step makes, on each strategy; the store stays small.
func TestBuildKeepsHoles(t *testing.T) {
	for _, strategy := range []string{"overlay", "vfs"} {
		t.Run(strategy, func(t *testing.T) {
			e := sandboxEnv(t, strategy)
			root := filepath.Join(e.home, "root")
			e.vars["HUSK_ROOT"] = root
			ref := plain.Ref("busybox:latest")
			e.pull(ref)
			dir := e.buildCtx("ctx", map[string]string{"Dockerfile": "FROM " + ref + "\nCOPY holey /holey\n" +
				"RUN busybox truncate -s 1073741823 /made && printf x >> /made\nRUN echo above > /above\n"})
			f, err := os.Create(filepath.Join(dir, "holey"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt([]byte("x"), 1<<30-1); err != nil {
				t.Fatal(err)
			}
			f.Close()
			e.ok("build", "-t", "holes", dir)
			checkHoles(t, e, "holes", "/holey", "/made")
			e.noLeftovers()
			if used := storeBytes(root); used > 64<<20 {
				t.Errorf("the store takes %d MiB after building two sparse GiB files on busybox", used>>20)
			}
		})
	}
}
