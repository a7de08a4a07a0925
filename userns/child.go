package userns

import (
	"errors"
	"os"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pdeathsig is the parent-death signal Start gave this process (0: none).
// The kernel keeps it per thread and a new thread starts without it, so
// Exec, which may run on another thread, sets it again before execve:
// a husk parent killed with SIGKILL then takes `husk unshare CMD` along.
var pdeathsig int

// rememberPdeathsig reads it while main still runs on the thread the
// process began with.
func rememberPdeathsig() {
	var sig int32
	unix.Syscall(unix.SYS_PRCTL, unix.PR_GET_PDEATHSIG, uintptr(unsafe.Pointer(&sig)), 0)
	pdeathsig = int(sig)
}

// ChildInit runs first in main. In a process that husk re-executed inside a
// new user namespace it completes the handshake (waits until the parent has
// written the ID maps) and returns, so the command then runs as root in the
// namespace. Everywhere else it returns nil at once.
//
// When the parent fails to map, it reports the failure itself; the child
// then exits 125 without a word, so that the user reads the error once.
func ChildInit() error {
	rememberPdeathsig()
	v, ok := os.LookupEnv(envSync)
	if !ok {
		return nil
	}
	os.Unsetenv(envSync)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return newError("reading", envSync, errors.New("not a file descriptor: "+v), "")
	}
	waitMapped(fd)
	return nil
}

// EnteredInit is ChildInit for a process the pre-runtime entry (the
// executor's usernsentry.c) put in the namespace as mode, before the Go
// runtime started: it is inside, as a re-executed child is, and so are the
// processes it starts. It returns once its parent has written the maps.
func EnteredInit(mode string, sync int) {
	rememberPdeathsig()
	os.Setenv(envMarker, mode)
	waitMapped(sync)
}

// waitMapped waits on fd for the parent's msgMapped; without it (the
// parent failed to map, and says so itself), husk exits without a word.
func waitMapped(fd int) {
	f := os.NewFile(uintptr(fd), "userns-sync")
	defer f.Close()
	var msg [1]byte
	if n, _ := f.Read(msg[:]); n != 1 || msg[0] != msgMapped {
		os.Exit(125)
	}
}
