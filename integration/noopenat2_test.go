package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// Kernels before 5.6 (RHEL 8's, which clusters still run) have no openat2:
// the executor then resolves paths inside the root by its own walk. The
// test binary, started by the name noOpenat2Name, is a kernel without
// openat2 in front of a command: it sets no_new_privs, installs a seccomp
// filter that answers openat2 with ENOSYS, as such a kernel does, checks
// that it does, and execs the command, whose every process inherits it.
const noOpenat2Name = "husk-no-openat2"

func init() {
	if filepath.Base(os.Args[0]) == noOpenat2Name {
		os.Exit(noOpenat2Main(os.Args[1:]))
	}
}

// auditArch is the seccomp arch of this build's native system calls: the
// number of openat2 (437) holds for these.
var auditArch = map[string]uint32{"amd64": unix.AUDIT_ARCH_X86_64, "arm64": unix.AUDIT_ARCH_AARCH64}

func noOpenat2Main(args []string) int {
	// no_new_privs and the filter are the thread's own: exec from it.
	runtime.LockOSThread()
	arch, ok := auditArch[runtime.GOARCH]
	if !ok || len(args) == 0 {
		fmt.Fprintf(os.Stderr, "%s: usage: %s COMMAND... (on amd64 or arm64, not %s)\n", noOpenat2Name, noOpenat2Name, runtime.GOARCH)
		return 125
	}
	prog := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 4}, // seccomp_data.arch
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: arch, Jt: 0, Jf: 3},
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.SYS_OPENAT2, Jt: 0, Jf: 1},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "%s: setting no_new_privs: %v\n", noOpenat2Name, err)
		return 125
	}
	if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)), 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "%s: installing the seccomp filter: %v\n", noOpenat2Name, err)
		return 125
	}
	if fd, err := unix.Openat2(unix.AT_FDCWD, "/", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC}); err != unix.ENOSYS {
		fmt.Fprintf(os.Stderr, "%s: openat2 answered %d, %v, not ENOSYS\n", noOpenat2Name, fd, err)
		return 125
	}
	bin, err := exec.LookPath(args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", noOpenat2Name, err)
		return 127
	}
	err = unix.Exec(bin, args, os.Environ())
	fmt.Fprintf(os.Stderr, "%s: exec %s: %v\n", noOpenat2Name, bin, err)
	return 126
}

// noOpenat2Wrapper is a link to the test binary by noOpenat2Name.
func noOpenat2Wrapper(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), noOpenat2Name)
	if err := os.Symlink(self, link); err != nil {
		t.Fatal(err)
	}
	return link
}

// runArgv runs argv (a program and its arguments, husk among them) as
// this env runs husk.
func (e *env) runArgv(t *testing.T, argv ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := e.command(ctx)
	cmd.Path, cmd.Args = argv[0], argv
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	return finish(ctx, t, cmd.Run(), argv, &out, &errb)
}

// symlinkImage is busybox with two symlinks an image could hold to reach
// the host: /data to the absolute host path escape, through ".." past
// the root, and /etcdata to /../../../../etc.
func symlinkImage(t *testing.T, escape string) string {
	t.Helper()
	layer, err := TarLayer([]Entry{
		Symlink("data", "/../../../.."+escape),
		Symlink("etcdata", "/../../../../etc"),
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(images.Busybox, layer)
	if err == nil {
		img, err = mutate.Config(img, v1.Config{Cmd: []string{"sh"}})
	}
	if err != nil {
		t.Fatal(err)
	}
	ref := plain.Ref("noopenat2:" + randomHex(4))
	if err := plain.Push(strings.TrimPrefix(ref, plain.Addr+"/"), img); err != nil {
		t.Fatal(err)
	}
	return ref
}

// On a kernel without openat2, husk run builds the root with the
// executor's walk, in every root-filesystem strategy: the run works, and
// volumes whose targets go through the image's symlinks, past the root,
// land inside the root and nowhere else. As husk-nosub the whole of husk
// runs on that kernel; as husk-sub, whose mapping takes the setuid
// newuidmap (no_new_privs would keep it from its privilege), the husk run
// inside husk unshare, in the namespace it mapped.
func TestRunWithoutOpenat2(t *testing.T) {
	wrapper := noOpenat2Wrapper(t)
	host := t.TempDir()
	vol, escape := filepath.Join(host, "vol"), filepath.Join(host, "escape")
	if err := os.Mkdir(vol, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vol, "marker"), []byte("from the volume\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ref, busybox := symlinkImage(t, escape), plain.Ref("busybox:latest")
	husk := []string{wrapper, huskBin}
	if me.Subuid {
		husk = []string{huskBin, "unshare", wrapper, "husk"}
	}
	// Where the volumes must appear inside the container: where the
	// links lead, with the root as /.
	script := fmt.Sprintf(`cat /data/marker %s/marker /etcdata/husk-vol/marker /etc/husk-vol/marker; test -f /etc/passwd && echo image etc kept`, escape)
	want := "from the volume\nfrom the volume\nfrom the volume\nfrom the volume\nimage etc kept"
	for _, s := range strategies {
		t.Run(s, func(t *testing.T) {
			e := sandboxEnv(t, s)
			e.pull(busybox, "--storage-driver", s)
			e.pull(ref, "--storage-driver", s)
			r := e.runArgv(t, append(husk, "run", "--rm", busybox, "echo", "ran")...)
			if r.code != 0 || strings.TrimSpace(r.stdout) != "ran" {
				t.Errorf("want ran: %s", r)
			}
			// Twice, as a repeated run --rm may start from its launch.
			for i := 0; i < 2; i++ {
				r := e.runArgv(t, append(husk, "run", "--rm", "-v", vol+":/data", "-v", vol+":/etcdata/husk-vol", ref, "sh", "-c", script)...)
				if got := strings.TrimSpace(r.stdout); r.code != 0 || got != want {
					t.Errorf("want %q: %s", want, r)
				}
			}
			for _, p := range []string{escape, "/etc/husk-vol"} {
				if _, err := os.Lstat(p); err == nil {
					t.Errorf("a volume target was made on the host, at %s", p)
				}
			}
		})
	}
}
