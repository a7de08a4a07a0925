// Package executor is husk's C executor and its pre-runtime entries. One
// constructor (entry.c) runs before the Go runtime and dispatches on the
// environment (abi.h names the variables): init.c runs the spec the host
// side built (sandbox.CSpec) as PID 1 and stays as the reaper (reaper.c)
// once the container's process runs; nsenter.c joins a running container
// and starts exec's process there with the init's functions; prelaunch.c
// starts a repeated `husk run` from its written-down launch. An idle container costs a few pages of memory for its init, not
// a Go runtime's.
//
// husk's main imports it for its side effect. The reaper forwards every
// signal to the container's process, reaps all children and exits with
// that process's code (128+N after signal N); it never returns to Go.
package executor

/*
#cgo CFLAGS: -I${SRCDIR}/../abi -std=gnu11 -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wvla -Wstrict-prototypes -Wno-missing-field-initializers
#include <stdlib.h>
#include "executor.h"
*/
import "C"

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Prelaunch is a sandbox that prelaunch.c started before the Go runtime,
// following a launch file an earlier run wrote.
type Prelaunch struct {
	Pid    int      // the sandbox's init, this process's child
	Status *os.File // the init's status pipe
	Net    *os.File // this side of its network socket, or nil
	Tap    *os.File // its TAP device, when the init sent it already
	// Claim is the lease file, locked, of the user-defined network's
	// address the launch reserved: kept open while the sandbox runs.
	Claim *os.File
	ID    string // the container's ID, in the spec already
	File  []byte // the launch file it followed
}

// Entered is the ID-map mode of the user namespace that the entry
// (usernsentry.c) put this process in before the Go runtime started, and
// the descriptor on which its parent says the maps are written; "" when
// it did not.
func Entered() (mode string, sync int) {
	if C.husk_entered == nil {
		return "", -1
	}
	return C.GoString(C.husk_entered), int(C.husk_entered_sync)
}

// Following says whether the prelaunch started a sandbox that this
// process is to follow (Prelaunched hands it out).
func Following() bool { return C.husk_pre.pid > 0 }

// Prelaunched is the sandbox the prelaunch started, or nil. It is handed
// out once: a second call returns nil.
func Prelaunched() *Prelaunch {
	pre := &C.husk_pre
	if pre.pid <= 0 {
		return nil
	}
	p := &Prelaunch{
		Pid:    int(pre.pid),
		Status: os.NewFile(uintptr(pre.status_fd), "husk-status"),
		ID:     C.GoString(&pre.id[0]),
		File:   C.GoBytes(unsafe.Pointer(pre.file), C.int(pre.file_len)),
	}
	if pre.net_fd >= 0 {
		p.Net = os.NewFile(uintptr(pre.net_fd), "network")
	}
	if pre.tap_fd >= 0 {
		p.Tap = os.NewFile(uintptr(pre.tap_fd), "tap")
	}
	if pre.claim_fd >= 0 {
		p.Claim = os.NewFile(uintptr(pre.claim_fd), "claim")
	}
	pre.pid = -1
	return p
}

// LaunchKey is the identity of this invocation as the prelaunch sees it,
// when os.Args[1:k+1] are its arguments up to the image (uid, gid,
// directory, those arguments, the environment), or nil.
func LaunchKey(k int) []byte {
	var n C.size_t
	p := C.husk_launch_key(C.int(k), &n)
	if p == nil {
		return nil
	}
	defer C.free(unsafe.Pointer(p))
	return C.GoBytes(unsafe.Pointer(p), C.int(n))
}

// FileIdentity is how the prelaunch tells that a file is unchanged:
// device, inode, size and modification time, or "-" when it is missing.
func FileIdentity(path string) string {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var buf [128]C.char
	C.husk_file_identity(cpath, &buf[0], C.size_t(len(buf)))
	return C.GoString(&buf[0])
}

// Abandon ends a prelaunched sandbox that this side will not follow, and
// closes this side's ends of it.
func (p *Prelaunch) Abandon() {
	_ = unix.Kill(p.Pid, unix.SIGKILL)
	_, _ = unix.Wait4(p.Pid, nil, 0, nil)
	p.Status.Close()
	if p.Net != nil {
		p.Net.Close()
	}
	if p.Tap != nil {
		p.Tap.Close()
	}
	if p.Claim != nil {
		p.Claim.Close()
	}
}
