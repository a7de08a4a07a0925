package sandbox

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"

	"husk/network"
)

// With port_handler=direct, a server that husk exec starts gets the
// published ports as the container's own servers do: the exec entry
// installs the init's bind filter (husk_watch_binds, asked by the exec
// spec's watch-binds record) and sends its listener here, and this side
// passes it on to the container's supervisor (network.ServeExecBinds).
// Without that, a server started by exec could not bind a published port
// that a server of the container had taken.

// bindsRelay is this side's part: the supervisor's socket, and a socket
// pair whose far end the exec'd process sends its listener on.
type bindsRelay struct {
	sup         net.Conn
	here, there *os.File
}

// dialBinds connects to the supervisor's socket at path. Where nothing
// listens there (no port_handler=direct, or a container started by an
// older husk) it returns nil, and the process is not watched: every bind
// of a watched process waits for the supervisor's answer.
func dialBinds(path string) (*bindsRelay, error) {
	if path == "" {
		return nil, nil
	}
	sup, err := net.Dial("unix", path)
	if err != nil {
		return nil, nil
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		sup.Close()
		return nil, fmt.Errorf("creating the socket for the exec'd process's binds: %w", err)
	}
	return &bindsRelay{sup: sup, here: os.NewFile(uintptr(fds[0]), "binds"),
		there: os.NewFile(uintptr(fds[1]), "binds-exec")}, nil
}

// abandon closes b when the process did not start.
func (b *bindsRelay) abandon() {
	if b == nil {
		return
	}
	b.there.Close()
	b.here.Close()
	b.sup.Close()
}

// relay passes the listener on once the process sends it; the process's
// end closing first (it failed, or the kernel has no listeners) ends it.
func (b *bindsRelay) relay() {
	if b == nil {
		return
	}
	b.there.Close()
	go func() {
		defer b.sup.Close()
		defer b.here.Close()
		hc, err := net.FileConn(b.here)
		if err != nil {
			return
		}
		defer hc.Close()
		f, err := network.RecvFile(hc.(*net.UnixConn))
		if err != nil {
			return
		}
		defer f.Close()
		network.SendFile(b.sup.(*net.UnixConn), f)
	}()
}
