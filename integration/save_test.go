package integration

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// load runs husk load -i path (or stdin from path with -) and checks it
// names ref as Docker does.
func (e *env) load(path, ref string) {
	e.t.Helper()
	r := e.ok("load", "-i", path)
	if !strings.Contains(r.stdout, "Loaded image: "+ref+"\n") {
		e.t.Errorf("load: want 'Loaded image: %s': %s", ref, r)
	}
}

// savedBusybox pulls busybox into e and saves it as a docker-archive in
// e's home: its name, and the archive's path.
func (e *env) savedBusybox() (ref, archive string) {
	e.t.Helper()
	ref = plain.Ref("busybox:latest")
	e.pull(ref)
	archive = filepath.Join(e.home, "bb.tar")
	e.ok("save", "-o", archive, ref)
	return ref, archive
}

// Each format round-trips into a fresh store: the same image ID, the
// content a user checks, and the loaded image runs.
func TestSaveLoadFormats(t *testing.T) {
	e := newEnv(t)
	layers, bb := plain.Ref("layers:latest"), plain.Ref("busybox:latest")
	e.pull(layers)
	e.pull(bb)
	out := filepath.Join(e.home, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ format, ref string }{
		{"docker-archive", layers}, {"oci-archive", bb}, {"oci-dir", bb},
	}
	for _, c := range cases {
		t.Run(c.format, func(t *testing.T) {
			path := filepath.Join(out, c.format)
			e.ok("save", "--format", c.format, "-o", path, c.ref)
			e2 := newEnv(t)
			e2.load(path, c.ref)
			if a, b := e.imageID(c.ref), e2.imageID(c.ref); a != b {
				t.Errorf("%s: loaded as %s, saved %s", c.format, b, a)
			}
			if c.ref == layers {
				checkLayersImage(t, e2, c.ref)
			} else if got := e2.out("run", "--rm", c.ref, "echo", "loaded"); got != "loaded" {
				t.Errorf("%s: the loaded image's run printed %q", c.format, got)
			}
		})
	}
}

// husk save to stdout, compressed by gzip or zstd, loads from stdin.
func TestLoadCompressedStdin(t *testing.T) {
	e := newEnv(t)
	ref, archive := e.savedBusybox()
	for _, z := range []string{"gzip", "zstd"} {
		comp, err := exec.Command(z, "-c", archive).Output()
		if err != nil {
			t.Fatalf("%s: %v", z, err)
		}
		e2 := newEnv(t)
		r := e2.runInput(string(comp), "load")
		if r.code != 0 || !strings.Contains(r.stdout, "Loaded image: "+ref) {
			t.Errorf("load of a %s archive from stdin: %s", z, r)
		}
		if a, b := e.imageID(ref), e2.imageID(ref); a != b {
			t.Errorf("%s: loaded as %s, saved %s", z, b, a)
		}
	}
}

// skopeo is the other side: its docker-archive and oci-archive load in
// husk, and it reads husk's docker-archive.
func TestSaveLoadWithSkopeo(t *testing.T) {
	e := newEnv(t)
	ref := plain.Ref("busybox:latest")
	e.pull(ref)
	// Converting to OCI, skopeo rewrites the config (so the ID changes):
	// the layers stay, and the image runs.
	layers := e.layerIDs(ref)
	same := func(e2 *env, what string) {
		t.Helper()
		if got := e2.layerIDs(ref); got != layers {
			t.Errorf("%s loaded with layers %s, want %s", what, got, layers)
		}
		if got := e2.out("run", "--rm", ref, "echo", "loaded"); got != "loaded" {
			t.Errorf("%s: the loaded image's run printed %q", what, got)
		}
	}
	for _, kind := range []string{"docker-archive", "oci-archive"} {
		path := filepath.Join(e.home, "skopeo-"+kind+".tar")
		e.skopeo("copy", "--src-tls-verify=false", "docker://"+ref, kind+":"+path+":"+ref)
		e2 := newEnv(t)
		e2.load(path, ref)
		same(e2, "skopeo's "+kind)
	}
	saved := filepath.Join(e.home, "husk.tar")
	e.ok("save", "-o", saved, ref)
	layout := filepath.Join(e.home, "from-husk")
	e.skopeo("copy", "docker-archive:"+saved, "oci:"+layout+":"+ref)
	e2 := newEnv(t)
	e2.load(layout, ref)
	same(e2, "husk's archive through skopeo")
}

// layerIDs are the image's diff IDs, as inspect shows them.
func (e *env) layerIDs(ref string) string {
	e.t.Helper()
	return strings.TrimSpace(e.ok("image", "inspect", "-f", "{{json .RootFS.Layers}}", ref).stdout)
}

// skopeo runs with the test's HOME, so it leaves nothing behind; it
// returns skopeo's output.
func (e *env) skopeo(args ...string) []byte {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "skopeo", args...)
	cmd.Env = e.environ()
	cmd.Dir = e.home
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		e.t.Fatalf("skopeo %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return out
}

// A truncated archive, a layer whose bytes changed, an OCI archive entry
// that leaves its root and a layer entry that does: one line, exit 125,
// no image.
func TestLoadFaults(t *testing.T) {
	e := newEnv(t)
	ref, archive := e.savedBusybox()
	ociArchive := filepath.Join(e.home, "bb-oci.tar")
	e.ok("save", "--format", "oci-archive", "-o", ociArchive, ref)
	good, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	oci, err := os.ReadFile(ociArchive)
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string][]byte{
		"truncated": good[:len(good)/2],
		"corrupt":   rewriteTar(t, good, corruptLayer),
		"escaping":  withEntry(t, oci, "../husk-escape-archive"),
	}
	var esc bytes.Buffer
	tag, _ := name.NewTag("escape:latest")
	if err := tarball.Write(tag, images.Escapes["escape-dotdot"], &esc); err != nil {
		t.Fatal(err)
	}
	bad["escaping-layer"] = esc.Bytes()
	for what, data := range bad {
		t.Run(what, func(t *testing.T) {
			e2 := newEnv(t)
			path := e2.writeFile(what+".tar", data, 0o644)
			e2.wantFault(e2.run("load", "-i", path), "load "+path)
			noEscapedFiles(t, e2.home)
		})
	}
}

// A layer whose files changed in the store after it was stored (a
// damaged disk, a hand edit) is not saved: the rebuilt tar no longer has
// the layer's digest. One line, exit 125, and no archive, not even a
// partial one beside where it was asked for; in each archive form.
func TestSaveDamagedLayer(t *testing.T) {
	e := newEnv(t)
	ref := plain.Ref("layers:latest")
	e.pull(ref)
	// One byte of the first non-empty file found in a layer's directory,
	// changed in place.
	e.ok("unshare", "sh", "-c", `set -e
f=$(find "$HOME"/.local/share/husk/storage/overlay/*/diff -type f -size +0 | head -n 1)
test -n "$f"
if [ "$(head -c 1 "$f")" = X ]; then b=Y; else b=X; fi
printf %s "$b" | dd of="$f" bs=1 count=1 conv=notrunc 2>/dev/null`)
	out := filepath.Join(e.home, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"docker-archive", "oci-archive", "oci-dir"} {
		t.Run(format, func(t *testing.T) {
			path := filepath.Join(out, format)
			e.wantError(e.run("save", "--format", format, "-o", path, ref), "layer", "the store is damaged: pull the image again")
			if left, _ := os.ReadDir(out); len(left) != 0 {
				t.Errorf("after a failed save, %s holds %v, want nothing", out, left)
			}
		})
	}
}

// rewriteTar copies a tar, letting edit change each entry.
func rewriteTar(t *testing.T, data []byte, edit func(h *tar.Header, body []byte) []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	tr, tw := tar.NewReader(bytes.NewReader(data)), tar.NewWriter(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		body = edit(h, body)
		h.Size = int64(len(body))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	tw.Close()
	return out.Bytes()
}

// corruptLayer changes one byte of file content in the largest layer.
func corruptLayer(h *tar.Header, body []byte) []byte {
	if strings.HasSuffix(h.Name, ".tar") && len(body) > 64<<10 {
		body = append([]byte{}, body...)
		body[len(body)/2] ^= 0xff
	}
	return body
}

// withEntry is an archive with one more file, named name, first.
func withEntry(t *testing.T, data []byte, name string) []byte {
	t.Helper()
	var head bytes.Buffer
	tw := tar.NewWriter(&head)
	tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: 8, Typeflag: tar.TypeReg})
	tw.Write([]byte("escaped\n"))
	tw.Flush() // no end-of-archive marker: the original entries follow
	return append(head.Bytes(), data...)
}

// A committed image pushed by husk is one skopeo pulls: skopeo sees the
// digest push printed, checks every blob against its digest as it
// copies, and the archive it writes runs in another store with the
// container's changes in it. The changes include 3 MB of random bytes,
// which husk's gzip stores rather than deflates, beside text it deflates.
func TestPushCommittedPulledBySkopeo(t *testing.T) {
	e := newEnv(t)
	base := plain.Ref("busybox:latest")
	e.pull(base)
	sum := e.out("run", "--name", "changed", base, "sh", "-c",
		"echo committed > /c && rm /bin/true && head -c 3000000 /dev/urandom > /r && md5sum /r")
	ref := plain.Ref("committed-" + me.Name + ":1")
	e.ok("commit", "changed", ref)
	pushed := e.pushDigest(ref)
	var seen struct{ Digest string }
	if err := json.Unmarshal(e.skopeo("inspect", "--tls-verify=false", "docker://"+ref), &seen); err != nil || seen.Digest != pushed {
		t.Errorf("skopeo inspect: digest %q, push printed %s (%v)", seen.Digest, pushed, err)
	}
	// busybox's layer was pulled from this registry: the push mounts that
	// blob, as Docker does, rather than send it again gzipped anew.
	var baseM, pushedM struct{ Layers []struct{ Digest string } }
	if err := json.Unmarshal(e.skopeo("inspect", "--raw", "--tls-verify=false", "docker://"+base), &baseM); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(e.skopeo("inspect", "--raw", "--tls-verify=false", "docker://"+ref), &pushedM); err != nil {
		t.Fatal(err)
	}
	if len(pushedM.Layers) != len(baseM.Layers)+1 || pushedM.Layers[0].Digest != baseM.Layers[0].Digest {
		t.Errorf("the committed image's layers as pushed: %v; want busybox's %v, then one more", pushedM.Layers, baseM.Layers)
	}
	// Pushed to another repository of the registry, its own layer is
	// mounted from the first one (as Docker does): no blob is sent, and
	// the manifest is the same.
	again := plain.Ref("committed-again-" + me.Name + ":1")
	e.ok("tag", ref, again)
	r := e.ok("push", again)
	if m := pushedLine.FindStringSubmatch(strings.TrimSpace(r.stdout)); m == nil || m[2] != pushed || strings.Contains(r.stderr, "Copying blob") {
		t.Errorf("the committed image pushed to a second repository: %s; want digest %s and no blob sent", r, pushed)
	}
	path := filepath.Join(e.home, "from-registry.tar")
	e.skopeo("copy", "--src-tls-verify=false", "docker://"+ref, "docker-archive:"+path+":"+ref)
	e2 := newEnv(t)
	e2.load(path, ref)
	if got := e2.out("run", "--rm", ref, "sh", "-c", "cat /c; test -e /bin/true || echo gone; md5sum /r"); got != "committed\ngone\n"+sum {
		t.Errorf("the committed image, pushed by husk and pulled by skopeo, runs as %q, want the changes and %q", got, sum)
	}
}

// bigFirstImage is busybox with a file of size bytes of incompressible
// data first in its layer: a reader of the layer opens the other files
// after that one.
func bigFirstImage(t *testing.T, size int64) string {
	t.Helper()
	return pushOneLayer(t, "bigfirst", append([]Entry{randomFile("big", size, 2)}, busyboxEntries(t, "sh", "md5sum")...))
}

// An rmi while a save reads the image's layer waits for the read to end
// (as containers/storage's own readers make it wait): the save succeeds,
// and its archive loads into another store whole. The rmi comes while the
// big file is read, before the busybox after it is opened.
func TestSaveWhileRmi(t *testing.T) {
	e := newEnv(t)
	ref := bigFirstImage(t, 256<<20)
	e.pull(ref)
	sum := e.out("run", "--rm", "--network", "none", ref, "md5sum", "/big")
	dir := filepath.Join(e.home, "out")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	save := e.command(ctx, "save", "-o", filepath.Join(dir, "img.tar"), ref)
	var saveErr bytes.Buffer
	save.Stderr = &saveErr
	if err := save.Start(); err != nil {
		t.Fatal(err)
	}
	// The archive under way: its temporary has grown past the first files.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(5 * time.Millisecond) {
		m, _ := filepath.Glob(filepath.Join(dir, ".husk-save-*"))
		if len(m) == 1 {
			if fi, err := os.Stat(m[0]); err == nil && fi.Size() > 16<<20 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no save under way in %s: %v", dir, m)
		}
	}
	rmi := e.run("rmi", ref)
	if err := save.Wait(); err != nil {
		t.Fatalf("the save with an rmi under way: %v: %s", err, saveErr.String())
	}
	if rmi.code != 0 {
		t.Errorf("the rmi during the save: %s", rmi)
	}
	e2 := newEnv(t)
	e2.load(filepath.Join(dir, "img.tar"), ref)
	if got := e2.out("run", "--rm", "--network", "none", ref, "md5sum", "/big"); got != sum {
		t.Errorf("the saved image's /big: %q, want %q", got, sum)
	}
}

// Ctrl-C on `husk save IMAGE | husk load` ends the writer and the load at
// once: the load says it was interrupted (exit 130), not that the archive
// is damaged, and keeps nothing of it. The test is the writer here: it
// sends SIGINT to the load's process group, as a terminal does, and
// closes the pipe at once, as the writer's death does.
func TestLoadInterruptedStdin(t *testing.T) {
	e := newEnv(t)
	_, archive := e.savedBusybox()
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		e2 := newEnv(t)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := e2.command(ctx, "load")
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = pr, &out, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pr.Close()
		if _, err := pw.Write(data[:len(data)/2]); err != nil {
			t.Fatalf("writing half the archive to husk load: %v", err)
		}
		time.Sleep(300 * time.Millisecond) // it reads what it has, and waits for more
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		r := finish(ctx, t, cmd.Wait(), []string{"load"}, &out, &errb)
		if r.code != 130 || !strings.Contains(r.stderr, "interrupted") || strings.Contains(r.stderr, "damaged") {
			t.Errorf("load %d: Ctrl-C and the end of stdin together: want exit 130 and \"interrupted\": %s", i+1, r)
		}
		if ids := e2.imageIDs(); len(ids) != 0 {
			t.Errorf("load %d: after the interrupted load, want no image: %q", i+1, ids)
		}
	}
}
