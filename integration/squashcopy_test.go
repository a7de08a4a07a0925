package integration

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// A squashfs file's node copy (issue 15): the first run of a file goes
// through FUSE and has it unpacked, once, in the background, into the
// node-local root; later runs run from that copy under the kernel's
// overlay, and see what the FUSE server showed.

// contentImage is busybox with the tools the listing needs and files of
// every kind: other owners, setuid, setgid and sticky bits, a hard link, a
// symbolic link, a fifo; big adds that many bytes of incompressible data.
func contentImage(t *testing.T, greeting string, big int64) string {
	t.Helper()
	entries := busyboxEntries(t, "sh", "find", "stat", "sort", "cat", "echo", "md5sum", "head", "sed", "wc", "true")
	suid := entries[1]
	suid.Hdr.Name, suid.Hdr.Mode = "bin/suid", 0o4755
	entries = append(entries, suid,
		Dir("etc/", 0o755, 0, 0), File("etc/greeting", 0o644, 0, 0, greeting+"\n"),
		File("etc/owned", 0o640, 1000, 1000, "owned\n"),
		Dir("shared/", 0o2775, 1000, 100), Dir("tmp/", 0o1777, 0, 0),
		Dir("data/", 0o750, 0, 0), File("data/a", 0o600, 0, 0, "linked\n"), Hardlink("data/hl", "data/a"),
		Symlink("data/sym", "../etc/greeting"), Symlink("dangling", "/nowhere"),
		Dir("proc/", 0o755, 0, 0), Dir("dev/", 0o755, 0, 0), Dir("sys/", 0o755, 0, 0))
	fifo := Dir("etc/fifo", 0o644, 0, 0)
	fifo.Hdr.Typeflag = '6'
	entries = append(entries, fifo)
	if big > 0 {
		entries = append(entries, randomFile("big", big, 1))
	}
	return pushOneLayer(t, "content", entries)
}

// busyboxEntries are bin/busybox (entries[1]) and links to it for the
// applets named.
func busyboxEntries(t *testing.T, applets ...string) []Entry {
	t.Helper()
	bb, err := os.ReadFile(BusyboxPath)
	if err != nil {
		t.Fatal(err)
	}
	entries := []Entry{Dir("bin/", 0o755, 0, 0), {Hdr: File("bin/busybox", 0o755, 0, 0, "").Hdr, Data: bb}}
	entries[1].Hdr.Size = int64(len(bb))
	for _, a := range applets {
		entries = append(entries, Symlink("bin/"+a, "busybox"))
	}
	return entries
}

// randomFile is a file of size bytes of incompressible data, the same for
// the same seed.
func randomFile(name string, size int64, seed byte) Entry {
	return Generated(name, size, func(w io.Writer) error {
		_, err := io.CopyN(w, rand.NewChaCha8([32]byte{seed}), size)
		return err
	})
}

// pushOneLayer pushes an image of one layer of entries (PATH=/bin, sh)
// to repo under a fresh tag and returns its reference.
func pushOneLayer(t *testing.T, repo string, entries []Entry) string {
	t.Helper()
	layer, err := TarLayer(entries)
	if err != nil {
		t.Fatal(err)
	}
	img, err := NewImage("amd64", v1.Config{Env: []string{"PATH=/bin"}, Cmd: []string{"sh"}}, layer)
	if err != nil {
		t.Fatal(err)
	}
	ref := repo + ":" + randomHex(4)
	if err := plain.Push(ref, img); err != nil {
		t.Fatal(err)
	}
	return plain.Ref(ref)
}

// copyRoot is the sshfs env's node-local root (under its TMPDIR).
func copyRoot(t *testing.T, e *env) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(e.vars["TMPDIR"], "husk-store-*"))
	if len(m) != 1 {
		t.Fatalf("want one node-local store under %s: %v", e.vars["TMPDIR"], m)
	}
	return m[0]
}

// envRoot is a (non-sshfs) env's store root.
func envRoot(e *env) string {
	if r := e.vars["HUSK_ROOT"]; r != "" {
		return r
	}
	return filepath.Join(e.home, ".local", "share", "husk")
}

// lowerLine prints "---" and the lower directory of the root's overlay.
var lowerLine = strings.Split(listing, "\n")[2]

// waitUnpacks waits until no unpack runs under root: each holds its
// file's lock until it ends.
func waitUnpacks(t *testing.T, root string) {
	t.Helper()
	locks, _ := filepath.Glob(filepath.Join(root, "squashfs", "*", ".lock"))
	for _, l := range locks {
		f, err := os.Open(l)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
}

// copies lists the complete copies and the other entries of root's
// squashfs directory, by file.
func copies(root string) (done, other []string) {
	ents, _ := filepath.Glob(filepath.Join(root, "squashfs", "*", "*"))
	for _, p := range ents {
		rel, _ := filepath.Rel(filepath.Join(root, "squashfs"), p)
		if _, err := os.Stat(filepath.Join(p, "meta.json")); err == nil {
			done = append(done, rel)
		} else if filepath.Base(p) != ".lock" {
			other = append(other, rel)
		}
	}
	return done, other
}

// listing is what a run of file sees of its tree (every entry's type,
// mode, owners, size and link target, sorted; then whether the hard
// links are one inode, the fifo's type, a file's content) and the lower
// directory of its root's overlay.
const listing = `find / -xdev ! -path /etc/hostname ! -path /etc/hosts ! -path /etc/resolv.conf -exec stat -c '%n %F %a %u %g %s %N' {} + | sort
stat -c %i /data/a /data/hl | sort -u | wc -l; cat /data/a /etc/owned /etc/greeting; md5sum /bin/suid
echo ---; busybox sed -n 's/.* - overlay overlay .*lowerdir=\([^,]*\).*/\1/p' /proc/self/mountinfo | busybox head -1`

func runListing(t *testing.T, e *env, file string) (tree, lower string) {
	t.Helper()
	r := e.ok("run", "--rm", "--network", "none", file, "sh", "-c", listing)
	tree, lower, ok := strings.Cut(r.stdout, "---\n")
	if !ok {
		t.Fatalf("the listing: %s", r)
	}
	return tree, strings.TrimSpace(lower)
}

// squashedContent pushes, pulls and squashes contentImage into HOME as
// NAME.sqsh.
func squashedContent(t *testing.T, e *env, greeting string, big int64) string {
	t.Helper()
	ref := contentImage(t, greeting, big)
	e.pull(ref)
	out := filepath.Join(e.home, greeting+".sqsh")
	e.ok("image", "squash", "-o", out, ref)
	return out
}

// copiesInfo is what husk info says of the node copies.
const copiesInfo = "{{.Store.SquashfsCopies.Enabled}} {{.Store.SquashfsCopies.Count}} {{.Store.SquashfsCopies.Dir}} {{.Store.SquashfsCopies.Off}}"

// wantCopyRun checks that a run's lower directory is a node copy under
// root, or (copy false) not: the FUSE mount on the scratch tmpfs.
func wantCopyRun(t *testing.T, what, lower, root string, copy bool) {
	t.Helper()
	in := strings.HasPrefix(lower, filepath.Join(root, "squashfs")+"/")
	if lower == "" || in != copy {
		t.Errorf("%s: the root's lower directory is %q: want it in the node copies under %s: %v", what, lower, root, copy)
	}
}

// A file on the shared mount run twice: the second run's root is the
// node copy (its overlay's lower directory is in the node-local root, not
// the FUSE mount on the scratch tmpfs), and it sees the same tree. Made
// again at its path, the file's next run sees the new content, never the
// old copy, whose unpack of the new version removes it.
func TestSquashNodeCopy(t *testing.T) {
	e, _ := sshfsEnv(t)
	e.vars[markVar] = randomHex(8)
	file := filepath.Join(e.home, "content.sqsh")
	if err := os.Rename(squashedContent(t, e, "first", 0), file); err != nil {
		t.Fatal(err)
	}
	fuseTree, lower := runListing(t, e, file)
	root := copyRoot(t, e)
	wantCopyRun(t, "the first run", lower, root, false)
	waitUnpacks(t, root)
	done, other := copies(root)
	if len(done) != 1 || len(other) != 0 {
		t.Fatalf("after the first run's unpack: want one copy and nothing else: %v, %v", done, other)
	}
	if got, want := e.out("info", "--format", copiesInfo), "true 1 "+filepath.Join(root, "squashfs")+" "; got != want {
		t.Errorf("husk info on the node copies: %q, want %q (enabled, count, dir, off)", got, want)
	}
	copyTree, lower := runListing(t, e, file)
	wantCopyRun(t, "the second run", lower, root, true)
	if copyTree != fuseTree {
		t.Errorf("the copy's tree differs from the FUSE server's:\n--- FUSE:\n%s--- copy:\n%s", fuseTree, copyTree)
	}
	owner := map[bool]string{true: "1000 1000", false: "0 0"}[me.Subuid]
	group := map[bool]string{true: "1000 100", false: "0 0"}[me.Subuid]
	for _, want := range []string{"/bin/suid regular file 4755 0 0 ", "/shared directory 2775 " + group + " ",
		"/tmp directory 1777 0 0 ", "/etc/owned regular file 640 " + owner + " ", "/etc/fifo fifo 644 0 0 ",
		"'/data/sym' -> '../etc/greeting'", "'/dangling' -> '/nowhere'", "\n1\nlinked\nowned\nfirst\n"} {
		if !strings.Contains(copyTree, want) {
			t.Errorf("the copy's tree lacks %q:\n%s", want, copyTree)
		}
	}
	wantUIDMap(t, e.out("run", "--rm", "--network", "none", file, "cat", "/proc/self/uid_map"))
	// Repeated, the run from the copy is prelaunched: the same root.
	for range 2 {
		if _, lower := runListing(t, e, file); !strings.HasPrefix(lower, filepath.Join(root, "squashfs")) {
			t.Errorf("a repeated run: lower %q, want the copy", lower)
		}
	}

	// The file made again: its next run shows the new content (through
	// FUSE), never the old copy; the new version's unpack removes it.
	if err := os.Rename(squashedContent(t, e, "second", 0), file); err != nil {
		t.Fatal(err)
	}
	newTree, lower := runListing(t, e, file)
	wantCopyRun(t, "the first run of the file made again", lower, root, false)
	if !strings.Contains(newTree, "\nsecond\n") || strings.Contains(newTree, "\nfirst\n") {
		t.Errorf("the file made again: want its new content: %s", newTree)
	}
	waitUnpacks(t, root)
	if now, other := copies(root); len(now) != 1 || now[0] == done[0] || len(other) != 0 {
		t.Errorf("after the new version's unpack: want its copy alone, the old %s removed: %v, %v", done[0], now, other)
	}
	tree, lower := runListing(t, e, file)
	wantCopyRun(t, "the second run of the file made again", lower, root, true)
	if tree != newTree {
		t.Errorf("the new copy's tree differs from the FUSE server's:\n--- FUSE:\n%s--- copy:\n%s", newTree, tree)
	}
	e.noLeftovers()
}

// An unpack killed with SIGKILL mid-way leaves nothing a run uses: runs
// stay right (through FUSE), and the next unpack removes what it left and
// completes. With HUSK_SQUASH_UNPACK=false no copy is made.
func TestSquashNodeCopyKilled(t *testing.T) {
	e, _ := sshfsEnv(t)
	e.vars[markVar] = randomHex(8)
	file := squashedContent(t, e, "big", 128<<20)
	root := copyRoot(t, e)
	e.ok("run", "--rm", "--network", "none", file, "true")
	// The unpack's temporary directory names its process.
	var pid int
	var tmp string
	for deadline := time.Now().Add(time.Minute); pid == 0 && time.Now().Before(deadline); {
		m, _ := filepath.Glob(filepath.Join(root, "squashfs", "*", ".tmp-*"))
		if len(m) == 1 {
			tmp = m[0]
			pid, _ = strconv.Atoi(tmp[strings.LastIndex(tmp, "-")+1:])
		}
		time.Sleep(time.Millisecond)
	}
	if pid == 0 {
		t.Fatalf("no unpack under way in %s/squashfs", root)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("killing the unpack %d: %v", pid, err)
	}
	waitUnpacks(t, root)
	if done, other := copies(root); len(done) != 0 || len(other) != 1 {
		t.Fatalf("after the unpack was killed: want its temporary alone, no copy: %v, %v", done, other)
	}
	// The next run: through FUSE, right; it starts the next unpack,
	// which removes the temporary and completes.
	r := e.ok("run", "--rm", "--network", "none", file, "sh", "-c", "md5sum /big; "+lowerLine)
	sum, _, _ := strings.Cut(r.stdout, " ")
	if len(sum) != 32 || strings.Contains(r.stdout, "/squashfs/") {
		t.Errorf("the run after the kill: want the same content through FUSE: %s", r)
	}
	waitUnpacks(t, root)
	if done, other := copies(root); len(done) != 1 || len(other) != 0 {
		t.Errorf("after the next unpack: want its copy alone: %v, %v", done, other)
	}
	if _, err := os.Stat(tmp); err == nil {
		t.Errorf("the killed unpack's %s is still there", tmp)
	}
	r = e.ok("run", "--rm", "--network", "none", file, "sh", "-c", "md5sum /big; "+lowerLine)
	if !strings.HasPrefix(r.stdout, sum) || !strings.Contains(r.stdout, "/squashfs/") {
		t.Errorf("the run from the copy: want the same content from the copy: %s", r)
	}

	// Turned off: a file run twice gets no copy, nor an unpack.
	e.vars["HUSK_SQUASH_UNPACK"] = "false"
	off := squashedContent(t, e, "off", 0)
	before, _ := filepath.Glob(filepath.Join(root, "squashfs", "*"))
	for range 2 {
		if _, lower := runListing(t, e, off); strings.Contains(lower, "/squashfs/") {
			t.Errorf("HUSK_SQUASH_UNPACK=false: a run from a copy: %s", lower)
		}
	}
	if after, _ := filepath.Glob(filepath.Join(root, "squashfs", "*")); len(after) != len(before) {
		t.Errorf("HUSK_SQUASH_UNPACK=false: want no copy made: %v, was %v", after, before)
	}
	if got, want := e.out("info", "--format", copiesInfo), "false 1 "+filepath.Join(root, "squashfs")+" HUSK_SQUASH_UNPACK=false"; got != want {
		t.Errorf("husk info with HUSK_SQUASH_UNPACK=false: %q, want %q (enabled, count, dir, off)", got, want)
	}
	e.noLeftovers()
}

// An image of a squashfs store run by name goes the same way: through FUSE
// first, then from its node copy, prelaunched; a publish that moves the
// name to another image voids the launch (it watches the stores' indexes),
// and the next run by name is the new image.
func TestSquashNodeCopyStore(t *testing.T) {
	e, _ := sshfsEnv(t)
	e.vars[markVar] = randomHex(8)
	ref := contentImage(t, "first", 0)
	e.pull(ref)
	shared := filepath.Join(e.home, "store")
	e.ok("image", "publish", ref, shared)
	e.vars["HUSK_IMAGE_STORES"] = shared
	root := copyRoot(t, e)
	byName := func(what, greeting string, copy bool) {
		t.Helper()
		out := e.out("run", "--rm", "--network", "none", ref, "sh", "-c", "cat /etc/greeting; "+lowerLine)
		got, lower, _ := strings.Cut(out, "---\n")
		if got != greeting+"\n" {
			t.Errorf("%s: %q, want %s", what, out, greeting)
		}
		wantCopyRun(t, what, lower, root, copy)
	}
	byName("the first run by name", "first", false)
	waitUnpacks(t, root)
	byName("the second run by name", "first", true)
	before := launchTimes(root)
	if len(before) == 0 {
		t.Fatalf("no launch was written down in %s/startcache", root)
	}
	byName("the third run by name", "first", true)
	if after := launchTimes(root); len(after) != len(before) || !func() bool {
		for k, v := range before {
			if !after[k].Equal(v) {
				return false
			}
		}
		return true
	}() {
		t.Errorf("the third run by name wrote its launch again (not prelaunched): %v, was %v", after, before)
	}

	// The name moved to another image by a publish.
	other := contentImage(t, "second", 0)
	e.pull(other)
	e.ok("tag", other, ref)
	e.ok("image", "publish", ref, shared)
	byName("the run by name after the name moved", "second", false)
	e.noLeftovers()
}

// With husk's root on the shared mount (HUSK_ROOT there), runs of a
// squashfs file make no node copy: it would be read over the network as
// the file is. husk info says so and why.
func TestSquashNoCopyOnNetworkRoot(t *testing.T) {
	e, _ := sshfsEnv(t)
	e.vars[markVar] = randomHex(8)
	file := squashedContent(t, e, "shared", 0)
	e.ok("system", "reset", "-f") // the node-local store that squashed it
	root := filepath.Join(e.home, "root")
	e.vars["HUSK_ROOT"] = root
	for i := range 2 {
		tree, lower := runListing(t, e, file)
		wantCopyRun(t, fmt.Sprintf("run %d with the root on the shared mount", i+1), lower, root, false)
		if !strings.Contains(tree, "\nshared\n") {
			t.Errorf("run %d: want the file's content: %s", i+1, tree)
		}
		waitUnpacks(t, root)
	}
	if done, other := copies(root); len(done)+len(other) != 0 {
		t.Errorf("a root on the shared mount got node copies: %v, %v", done, other)
	}
	got := e.out("info", "--format", copiesInfo)
	if want := "false 0 " + filepath.Join(root, "squashfs") + " husk's root is on a network filesystem (fuse.sshfs)"; !strings.HasPrefix(got, want) {
		t.Errorf("husk info with the root on the shared mount: %q, want %q...", got, want)
	}
	e.noLeftovers()
}
