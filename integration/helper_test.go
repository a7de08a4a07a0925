package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The test binary doubles as a tiny static helper inside sandboxes: bound
// into a container as helperPath, it tries the system calls busybox has no
// applet for (keyctl, add_key, kexec_load, open_by_handle_at) and prints
// one line per call, "NAME: ok" or "NAME: <error>". It is built by `go test
// -c` with netgo and osusergo, so it is a static binary that runs in any
// image; checkHelperStatic says so when it is not.
const helperPath = "/husk-test-helper"

func init() {
	if filepath.Base(os.Args[0]) == filepath.Base(helperPath) {
		if len(os.Args) == 3 && os.Args[1] == "udp-echo" {
			os.Exit(udpEcho(os.Args[2]))
		}
		if len(os.Args) == 4 && os.Args[1] == "udp-ask" {
			os.Exit(udpAsk(os.Args[2], os.Args[3]))
		}
		if len(os.Args) == 3 && os.Args[1] == "tcp-serve" {
			os.Exit(tcpServe(os.Args[2]))
		}
		if len(os.Args) == 3 && strings.HasPrefix(os.Args[1], "vm-") {
			os.Exit(vmHelper(os.Args[1], os.Args[2])) // join_test.go
		}
		if len(os.Args) >= 3 && strings.HasPrefix(os.Args[1], "unix-") {
			os.Exit(unixHelper(os.Args[1], os.Args[2:])) // shellsock_test.go
		}
		os.Exit(helperMain(os.Args[1:]))
	}
}

var helperCalls = map[string]func() error{
	"keyctl": func() error {
		// KEYCTL_JOIN_SESSION_KEYRING with a NULL name: a new anonymous
		// session keyring.
		_, _, e := unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_JOIN_SESSION_KEYRING, 0, 0)
		return errnoErr(e)
	},
	"add_key": func() error {
		_, err := unix.AddKey("user", "husk-test", []byte("secret"), unix.KEY_SPEC_PROCESS_KEYRING)
		return err
	},
	"kexec_load": func() error {
		_, _, e := unix.Syscall6(unix.SYS_KEXEC_LOAD, 0, 0, 0, 0, 0, 0)
		return errnoErr(e)
	},
	"open_by_handle_at": func() error {
		// A real handle when name_to_handle_at is allowed, else a made-up
		// one: the call under test is open_by_handle_at either way.
		h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, "/etc/passwd", 0)
		if err != nil {
			h = unix.NewFileHandle(1, make([]byte, 8))
		}
		root, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			return err
		}
		defer unix.Close(root)
		fd, err := unix.OpenByHandleAt(root, h, unix.O_RDONLY)
		if err == nil {
			unix.Close(fd)
		}
		return err
	},
	"mount": func() error {
		return unix.Mount("none", "/tmp", "tmpfs", 0, "")
	},
	"unshare-user": func() error {
		return unix.Unshare(unix.CLONE_NEWUSER)
	},
	"pivot_root": func() error {
		return unix.PivotRoot("/tmp", "/tmp")
	},
	"bpf": func() error {
		// BPF_MAP_CREATE with an empty attribute: refused before it is read
		// where bpf is denied.
		attr := make([]byte, 128)
		_, _, e := unix.Syscall(unix.SYS_BPF, 0, uintptr(unsafe.Pointer(&attr[0])), uintptr(len(attr)))
		return errnoErr(e)
	},
	"perf_event_open": func() error {
		attr := unix.PerfEventAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_CPU_CLOCK}
		attr.Size = uint32(unsafe.Sizeof(attr))
		fd, err := unix.PerfEventOpen(&attr, 0, -1, -1, 0)
		if err == nil {
			unix.Close(fd)
		}
		return err
	},
	"userfaultfd": func() error {
		fd, _, e := unix.Syscall(unix.SYS_USERFAULTFD, unix.O_CLOEXEC, 0, 0)
		if e == 0 {
			unix.Close(int(fd))
		}
		return errnoErr(e)
	},
	"io_uring_setup": func() error {
		params := make([]byte, 120)
		fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params[0])), 0)
		if e == 0 {
			unix.Close(int(fd))
		}
		return errnoErr(e)
	},
	"tiocsti": func() error {
		// A character pushed into the input of the terminal on stdin: the
		// host's, where a container could type commands into its shell.
		c := byte('#')
		_, _, e := unix.Syscall(unix.SYS_IOCTL, 0, unix.TIOCSTI, uintptr(unsafe.Pointer(&c)))
		return errnoErr(e)
	},
}

func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func helperMain(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "husk-test-helper: name one or more calls")
		return 2
	}
	for _, name := range args {
		call, ok := helperCalls[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "husk-test-helper: unknown call %q\n", name)
			return 2
		}
		if err := call(); err != nil {
			fmt.Printf("%s: %v\n", name, err)
		} else {
			fmt.Printf("%s: ok\n", name)
		}
	}
	return 0
}

// helperVolume is the -v flag that binds the test binary in as the helper.
func helperVolume(t *testing.T) []string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	checkHelperStatic(t, self)
	return []string{"-v", self + ":" + helperPath + ":ro"}
}

// checkHelperStatic fails the test when the test binary needs a dynamic
// loader, which the test image lacks.
func checkHelperStatic(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "/ld-linux") || strings.Contains(string(data), "libc.so") {
		t.Fatalf("%s is dynamically linked, so it cannot serve as the helper inside the busybox image: build the suite with netgo,osusergo and no cgo package", path)
	}
}

// helperResults runs the helper with calls and returns call -> outcome.
func helperResults(t *testing.T, e *env, ref string, flags []string, calls ...string) map[string]string {
	t.Helper()
	flags = append(append([]string{}, flags...), helperVolume(t)...)
	out := e.sbxOut(flags, ref, append([]string{helperPath}, calls...)...)
	res := map[string]string{}
	for _, l := range lines(out) {
		if k, v, ok := strings.Cut(l, ": "); ok {
			res[k] = v
		}
	}
	for _, c := range calls {
		if _, ok := res[c]; !ok {
			t.Errorf("helper printed nothing for %s: %q", c, out)
		}
	}
	return res
}
