package seccomp

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// LoadBPF installs a compiled filter on the calling OS thread only (no
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
