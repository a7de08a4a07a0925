package seccomp

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// auditArch is the architecture a filter expects in seccomp_data.arch.
var auditArch = map[string]uint32{"amd64": unix.AUDIT_ARCH_X86_64, "arm64": unix.AUDIT_ARCH_AARCH64}

// ListenBinds installs on the calling OS thread, which the caller has
// locked and execs from, a filter that reports every bind(2) to a seccomp
// listener, and returns the listener (network.ServeExecBinds answers it).
// It is the C init's watch_binds, for a process husk exec starts. nil
// where the architecture is not one husk knows.
func ListenBinds() (*os.File, error) {
	arch, ok := auditArch[runtime.GOARCH]
	if !ok {
		return nil, nil
	}
	const (
		ld  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		ret = unix.BPF_RET | unix.BPF_K
	)
	prog := []unix.SockFilter{
		{Code: ld, K: 4}, // seccomp_data.arch
		{Code: jeq, K: arch, Jf: 3},
		{Code: ld, K: 0}, // seccomp_data.nr
		{Code: jeq, K: unix.SYS_BIND, Jf: 1},
		{Code: ret, K: unix.SECCOMP_RET_USER_NOTIF},
		{Code: ret, K: unix.SECCOMP_RET_ALLOW},
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	fd, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, uintptr(unsafe.Pointer(&fprog)))
	if e != 0 {
		return nil, fmt.Errorf("watching the binds of the exec'd process (seccomp listener): %w", e)
	}
	return os.NewFile(fd, "binds"), nil
}
