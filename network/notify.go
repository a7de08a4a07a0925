package network

import (
	"encoding/binary"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The seccomp listener's side of a bind: the kernel's structures and
// calls, and what the caller passed.

// The kernel's structures (linux/seccomp.h); x/sys has the ioctls only.
type seccompData struct {
	Nr   int32
	Arch uint32
	IP   uint64
	Args [6]uint64
}

type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Data  seccompData
}

type seccompResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

type seccompAddfd struct {
	ID         uint64
	Flags      uint32
	Srcfd      uint32
	Newfd      uint32
	NewfdFlags uint32
}

// readSockaddr reads the bind's address from the caller's memory.
func readSockaddr(req *seccompNotif) (addr []byte, port int, ok bool) {
	n := min(int(req.Data.Args[2]), unix.SizeofSockaddrInet6+8)
	if n < unix.SizeofSockaddrInet4 {
		return nil, 0, false
	}
	addr = make([]byte, n)
	local := []unix.Iovec{{Base: &addr[0]}}
	local[0].SetLen(n)
	remote := []unix.RemoteIovec{{Base: uintptr(req.Data.Args[1]), Len: n}}
	if got, err := unix.ProcessVMReadv(int(req.Pid), local, remote, 0); err != nil || got != n {
		return nil, 0, false
	}
	switch binary.NativeEndian.Uint16(addr) {
	case unix.AF_INET:
	case unix.AF_INET6:
		if n < unix.SizeofSockaddrInet6 {
			return nil, 0, false
		}
	default:
		return nil, 0, false
	}
	return addr, int(binary.BigEndian.Uint16(addr[2:])), true
}

// stealFD is a copy of the caller's descriptor fd.
func stealFD(pid, fd int) (int, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pidfd)
	return unix.PidfdGetfd(pidfd, fd, 0)
}

// tcpDomain is the address family of a TCP socket; false for any other.
func tcpDomain(sock int) (int, bool) {
	typ, err := unix.GetsockoptInt(sock, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil || typ != unix.SOCK_STREAM {
		return 0, false
	}
	dom, err := unix.GetsockoptInt(sock, unix.SOL_SOCKET, unix.SO_DOMAIN)
	if err != nil || (dom != unix.AF_INET && dom != unix.AF_INET6) {
		return 0, false
	}
	return dom, true
}

// fdFlags is O_CLOEXEC if the caller's descriptor fd has it.
func fdFlags(pid, fd int) uint32 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/fdinfo/" + strconv.Itoa(fd))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "flags:"); ok {
			fl, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
			if err == nil && fl&unix.O_CLOEXEC != 0 {
				return unix.O_CLOEXEC
			}
		}
	}
	return 0
}

func rawBind(sock int, addr []byte) error {
	_, _, e := unix.Syscall(unix.SYS_BIND, uintptr(sock), uintptr(unsafe.Pointer(&addr[0])), uintptr(len(addr)))
	if e != 0 {
		return e
	}
	return nil
}

func ioctl(fd int, req uint, arg unsafe.Pointer) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
	if e != 0 {
		return e
	}
	return nil
}
