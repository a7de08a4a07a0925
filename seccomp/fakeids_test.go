package seccomp

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"husk/profiles"
)

// childFakeIDs loads Docker's profile with FakeIDs into its own thread and
// checks that id changes succeed without effect while a FIFO is still made.
func childFakeIDs(dir string) int {
	p, err := Default(profiles.DefaultCaps)
	if err != nil {
		println(err.Error())
		return 2
	}
	prog, err := CompileBPF(FakeIDs(p, profiles.DefaultCaps))
	if err != nil {
		println(err.Error())
		return 2
	}
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		println(err.Error())
		return 2
	}
	if err := LoadBPF(prog); err != nil {
		println(err.Error())
		return 2
	}
	file := filepath.Join(dir, "f")
	before := owner(file)
	checks := []struct {
		name string
		err  error
	}{
		{"setgroups", rawErr(unix.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0))},
		{"setresuid", rawErr(unix.RawSyscall(unix.SYS_SETRESUID, 1234, 1234, 1234))},
		{"chown", unix.Chown(file, 1234, 1234)},
		{"mknod chr", unix.Mknod(filepath.Join(dir, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3)))},
		{"mknod fifo", unix.Mknod(filepath.Join(dir, "fifo"), unix.S_IFIFO|0o600, 0)},
	}
	for _, c := range checks {
		if c.err != nil {
			println(c.name, c.err.Error())
			return 3
		}
	}
	if owner(file) != before || unix.Getuid() != os.Getuid() {
		println("an id change took effect")
		return 4
	}
	if _, err := os.Lstat(filepath.Join(dir, "null")); err == nil {
		println("mknod of a device made a node")
		return 5
	}
	if fi, err := os.Lstat(filepath.Join(dir, "fifo")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		println("mknod of a FIFO made none")
		return 6
	}
	return 0
}

func TestFakeIDs(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "HUSK_SECCOMP_FAKE_CHILD="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child with the faked id calls: %v: %s", err, out)
	}
}

// The faked profile must compile to the same program each time, or the
// filter cache would grow without end.
func TestFakeIDsStable(t *testing.T) {
	p, _ := Default(profiles.DefaultCaps)
	a, _ := cacheKey(FakeIDs(p, profiles.DefaultCaps))
	b, _ := cacheKey(FakeIDs(p, profiles.DefaultCaps))
	if a != b {
		t.Fatal("two FakeIDs profiles of one profile differ")
	}
}

func owner(path string) uint32 {
	var st unix.Stat_t
	_ = unix.Lstat(path, &st)
	return st.Uid
}

func rawErr(_, _ uintptr, e unix.Errno) error { return errnoOrNil(e) }

func errnoOrNil(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// A capability left out of the set leaves its calls to the profile.
func TestFakeIDsFollowsCaps(t *testing.T) {
	p, _ := Default(profiles.DefaultCaps)
	var caps []string
	for _, c := range profiles.DefaultCaps {
		if c != "CAP_CHOWN" && c != "CAP_MKNOD" {
			caps = append(caps, c)
		}
	}
	for _, r := range FakeIDs(p, caps).Syscalls {
		if r.ErrnoRet != nil && *r.ErrnoRet == 0 {
			for _, n := range r.Names {
				if n == "chown" || n == "mknod" {
					t.Errorf("%s is faked without its capability", n)
				}
			}
		}
	}
}
