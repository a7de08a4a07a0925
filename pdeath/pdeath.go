// Package pdeath keeps a child's parent-death signal meaning what husk
// means by it: the child ends when husk does.
//
// Linux sends a child its Pdeathsig when the thread that forked it ends,
// not when the process does. Go ends a thread when a goroutine that locked
// it returns without unlocking, as store's chroot unpack does on purpose.
// A child forked earlier from that thread, by any other goroutine, is then
// killed in mid-run: a parallel build stage's RUN exited 137 while the
// other stage unpacked a layer.
package pdeath

import "runtime"

// Hold pins the calling goroutine to its thread until release is called,
// so that a child it forks keeps its parent thread. Call it before the
// child starts and release once the child is reaped:
//
//	defer pdeath.Hold()()
func Hold() (release func()) {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}
