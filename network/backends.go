// Package network gives sandboxes their network. By default the init
// creates a TAP device in the sandbox's network namespace (the C executor's net.c) and
// passes it to the monitor, which runs gvisor's userspace stack on it
// (RunStack), as rootlesskit's gvisor-tap-vsock driver does but with no
// process of its own between. slirp4netns or pasta, when asked, are run
// by the monitor (StartExternal). Published ports are the monitor's
// listeners, spliced to sockets the init connects inside (Listen, Serve,
// Dialer; the init answers the dials), after rootlesskit's builtin port driver. That
// driver itself cannot serve husk: its child half runs in rootlesskit's
// own child process, a Go process in the sandbox answering on a socket
// file in a state directory, where husk's sandbox has the C init, which
// answers the dials on the socket it inherited.
package network

import (
	"errors"
	"fmt"
	"os/exec"

	"golang.org/x/sys/unix"
)

// Backend names, as --network will accept them.
const (
	Builtin     = "builtin" // gvisor-tap-vsock inside husk
	Slirp4netns = "slirp4netns"
	Pasta       = "pasta"
)

// Backend is whether one network backend can work here. Err, when set, is
// one line with its fix.
type Backend struct {
	Name string
	Path string // the helper binary, for slirp4netns and pasta
	Err  error
}

// Problem is a missing prerequisite with the line that fixes it.
type Problem struct {
	What, Fix string
}

func (p *Problem) Error() string   { return p.What + ": " + p.Fix }
func (p *Problem) FixHint() string { return p.Fix }

// Backends checks each backend: all three put a tap device into the
// sandbox's network namespace, so they need /dev/net/tun; the two helpers
// also need their binary.
func Backends() []Backend {
	tun := devTun()
	bs := []Backend{{Name: Builtin, Err: tun}}
	for _, h := range []struct{ name, pkg string }{{Slirp4netns, "slirp4netns"}, {Pasta, "passt"}} {
		b := Backend{Name: h.name}
		p, err := exec.LookPath(h.name)
		switch {
		case err != nil:
			b.Err = &Problem{h.name + " is not installed", fmt.Sprintf("install it (sudo apt-get install %s), or use the builtin network", h.pkg)}
		case tun != nil:
			b.Err = tun
		}
		b.Path = p
		bs = append(bs, b)
	}
	return bs
}

// devTun checks that /dev/net/tun opens for reading and writing.
func devTun() error {
	const dev = "/dev/net/tun"
	fd, err := unix.Open(dev, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err == nil {
		unix.Close(fd)
		return nil
	}
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENODEV) {
		return &Problem{dev + " is missing", "ask the admin to load the tun module (sudo modprobe tun), or use --network none or host"}
	}
	mode := ""
	var st unix.Stat_t
	if unix.Stat(dev, &st) == nil {
		mode = fmt.Sprintf(" (mode %04o)", st.Mode&0o7777)
	}
	return &Problem{dev + " is not usable by you" + mode, "ask the admin to run chmod 0666 /dev/net/tun, or use --network none or host"}
}
