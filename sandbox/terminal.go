package sandbox

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// console is the host side of -t: it receives the pty's master from the
// init, puts the user's terminal in raw mode (so Ctrl-C reaches the
// sandbox's process as a byte) and copies both ways.
type console struct {
	local, remote *os.File // a socket pair: remote goes to the init
	attachStdin   bool
	master        *os.File
	state         *term.State
	out           chan struct{}
}

func newConsole(attachStdin bool) (*console, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("creating the console socket: %w", err)
	}
	return &console{
		local:       os.NewFile(uintptr(fds[0]), "console"),
		remote:      os.NewFile(uintptr(fds[1]), "console-init"),
		attachStdin: attachStdin,
		out:         make(chan struct{}),
	}, nil
}

// relay receives the master (or EOF, when the init failed first) and
// copies until the sandbox's side of the pty closes.
func (c *console) relay() {
	defer close(c.out)
	master, err := c.receive()
	if err != nil {
		return
	}
	c.master = master
	if term.IsTerminal(int(os.Stdin.Fd())) {
		if st, err := term.MakeRaw(int(os.Stdin.Fd())); err == nil {
			c.state = st
		}
	}
	c.resize()
	c.ack()
	if c.attachStdin {
		go io.Copy(master, os.Stdin)
	}
	io.Copy(os.Stdout, master) // ends with EIO once every slave is closed
}

// handOver gives the master to a monitor, which copies it itself.
func (c *console) handOver(take func(*os.File)) {
	defer close(c.out)
	master, err := c.receive()
	if err != nil {
		return
	}
	take(master)
	c.ack()
}

// ack tells the init that the pty has its size: its process may start.
func (c *console) ack() { _, _ = c.local.Write([]byte{0}) }

func (c *console) receive() (*os.File, error) {
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(int(c.local.Fd()), buf, oob, 0)
	if err != nil || oobn == 0 {
		return nil, fmt.Errorf("no pty from the sandbox")
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) == 0 {
		return nil, fmt.Errorf("no pty from the sandbox")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) == 0 {
		return nil, fmt.Errorf("no pty from the sandbox")
	}
	return os.NewFile(uintptr(fds[0]), "pty-master"), nil
}

// resize gives the pty the user's window size (at start and on SIGWINCH).
func (c *console) resize() {
	if c.master == nil {
		return
	}
	if size, err := pty.GetsizeFull(os.Stdin); err == nil {
		_ = pty.Setsize(c.master, size)
	}
}

// drain waits briefly for the last output, then restores the terminal.
func (c *console) drain() {
	select {
	case <-c.out:
	case <-time.After(2 * time.Second):
	}
	c.close()
}

func (c *console) close() {
	if c.state != nil {
		_ = term.Restore(int(os.Stdin.Fd()), c.state)
		c.state = nil
	}
	c.local.Close()
	c.remote.Close()
	if c.master != nil {
		c.master.Close()
	}
}
