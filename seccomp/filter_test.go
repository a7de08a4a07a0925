package seccomp

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"husk/profiles"
)

// The child half of TestDefaultProfileBlocks: it loads the filter into its
// own process, which a test must never do to the test runner itself.
func TestMain(m *testing.M) {
	if os.Getenv("HUSK_SECCOMP_TEST_CHILD") == "1" {
		os.Exit(childLoadAndProbe())
	}
	if dir := os.Getenv("HUSK_SECCOMP_FAKE_CHILD"); dir != "" {
		os.Exit(childFakeIDs(dir))
	}
	os.Exit(m.Run())
}

func childLoadAndProbe() int {
	p, err := Default(profiles.DefaultCaps)
	if err != nil {
		println(err.Error())
		return 2
	}
	f, err := Compile(p)
	if err != nil {
		println(err.Error())
		return 2
	}
	// Loading a filter unprivileged needs no_new_privs.
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		println(err.Error())
		return 2
	}
	prog, err := f.BPF()
	if err != nil {
		println(err.Error())
		return 2
	}
	runtime.LockOSThread()
	if err := LoadBPF(prog); err != nil {
		println(err.Error())
		return 2
	}
	// The filter is on this thread only; /proc/self is the thread group leader.
	status, _ := os.ReadFile("/proc/thread-self/status")
	if !strings.Contains(string(status), "Seccomp:\t2") {
		println("Seccomp is not 2 in /proc/thread-self/status")
		return 3
	}
	// keyctl is denied by Docker's profile with EPERM; getpid is allowed.
	if _, _, e := unix.Syscall(unix.SYS_KEYCTL, 0, 0, 0); e != unix.EPERM {
		println("keyctl: got", e.Error())
		return 4
	}
	if _, _, e := unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0); e != 0 {
		println("getpid failed")
		return 5
	}
	return 0
}

func TestDefaultProfileBlocks(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "HUSK_SECCOMP_TEST_CHILD=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child with Docker's default profile: %v: %s", err, out)
	}
}

func TestDefaultProfileDependsOnCaps(t *testing.T) {
	// With CAP_SYS_ADMIN, Docker's profile allows mount; without, it does not.
	has := func(caps []string) bool {
		p, err := Default(caps)
		if err != nil {
			t.Fatal(err)
		}
		for _, sc := range p.Syscalls {
			for _, n := range sc.Names {
				if n == "mount" && sc.Action == "SCMP_ACT_ALLOW" {
					return true
				}
			}
		}
		return false
	}
	if has(profiles.DefaultCaps) {
		t.Error("default caps: mount allowed, want denied")
	}
	if !has(append([]string{"CAP_SYS_ADMIN"}, profiles.DefaultCaps...)) {
		t.Error("with CAP_SYS_ADMIN: mount denied, want allowed")
	}
}

func TestFromFileErrors(t *testing.T) {
	dir := t.TempDir()
	bad := dir + "/bad.json"
	os.WriteFile(bad, []byte("{not json"), 0o644)
	for _, path := range []string{dir + "/missing.json", bad} {
		_, err := FromFile(path, profiles.DefaultCaps)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "seccomp=unconfined") {
			t.Errorf("FromFile(%s) = %v, want an error naming the file and the fix", path, err)
		}
	}
}

func TestCachedBPF(t *testing.T) {
	dir := t.TempDir()
	p, err := Default(profiles.DefaultCaps)
	if err != nil {
		t.Fatal(err)
	}
	first, err := CachedBPF(p, dir)
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("want one cached filter in %s, have %d", dir, len(entries))
	}
	second, err := CachedBPF(p, dir)
	if err != nil || string(first) != string(second) {
		t.Fatalf("the cached filter differs from the compiled one (%v)", err)
	}
	// Another profile (other capabilities) gets its own entry.
	q, _ := Default(append([]string{"CAP_SYS_ADMIN"}, profiles.DefaultCaps...))
	if _, err := CachedBPF(q, dir); err != nil {
		t.Fatal(err)
	}
	if entries, _ = os.ReadDir(dir); len(entries) != 2 {
		t.Fatalf("want two cached filters, have %d", len(entries))
	}
}

// LoadBPF installs a compiled filter (the C executor loads it for real) on the calling OS thread only (no
// TSYNC), which the caller has locked: the process it then forks inherits
// the filter, while the rest of husk's init stays unconfined. The thread
// needs no_new_privs or CAP_SYS_ADMIN in its user namespace.
func LoadBPF(prog []byte) error {
	const insn = int(unsafe.Sizeof(unix.SockFilter{}))
	if len(prog) == 0 || len(prog)%insn != 0 {
		return fmt.Errorf("loading the seccomp filter: %d bytes is not a BPF program", len(prog))
	}
	n := len(prog) / insn
	fprog := unix.SockFprog{Len: uint16(n), Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0]))}
	if _, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog))); e != 0 {
		return fmt.Errorf("loading the seccomp filter: %w", e)
	}
	return nil
}
