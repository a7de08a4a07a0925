package userns

import (
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// Exec replaces this process with path, as syscall.Exec does, after
// clearing the ambient and inheritable capabilities that the subuid
// handshake raised (see Start): the command then holds what any root
// process in the namespace holds, as under `podman unshare`, and hands
// nothing on when it runs an unprivileged program. Capabilities belong to
// a thread, so the clearing and the execve happen on one locked thread
// (which also gets the parent-death signal back: see pdeathsig).
func Exec(path string, argv, env []string) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if pdeathsig != 0 {
		unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(pdeathsig), 0, 0, 0)
	}
	if err := clearInheritable(); err != nil {
		return newError("clearing inherited capabilities for", path, err, "")
	}
	return syscall.Exec(path, argv, env)
}

func clearInheritable() error {
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && err != unix.EINVAL {
		return err
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	if data[0].Inheritable == 0 && data[1].Inheritable == 0 {
		return nil
	}
	data[0].Inheritable, data[1].Inheritable = 0, 0
	return unix.Capset(&hdr, &data[0])
}
