package attach

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// Client is what an attach relays: input (nil: none), output, and the
// local terminal when the container has one.
type Client struct {
	Stdin      io.Reader
	Stdout     io.Writer
	Stderr     io.Writer
	Terminal   *os.File // raw mode and window size follow it; nil: none
	DetachKeys []byte
}

// Dial connects to a container's attach socket.
func Dial(path string) (*net.UnixConn, error) {
	c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, ErrNotRunning
	}
	return c, nil
}

// Ready tells a monitor that waits for its client before it starts the
// process that this one is here, with the terminal's size sent first so
// the process's pty has it from its start.
func (cl *Client) Ready(conn *net.UnixConn) error {
	if cl.Terminal != nil && term.IsTerminal(int(cl.Terminal.Fd())) {
		if ws, err := pty.GetsizeFull(cl.Terminal); err == nil {
			if err := WriteFrame(conn, Resize, sizePayload(ws.Rows, ws.Cols)); err != nil {
				return fmt.Errorf("attaching to the container: %w", err)
			}
		}
	}
	if err := WriteFrame(conn, Ready, nil); err != nil {
		return fmt.Errorf("attaching to the container: %w", err)
	}
	return nil
}

// Run relays until the container exits (its code) or the user types the
// detach keys (detached true).
func (cl *Client) Run(conn *net.UnixConn) (code int, detached bool, err error) {
	defer conn.Close()
	if cl.Terminal != nil && term.IsTerminal(int(cl.Terminal.Fd())) {
		if st, err := term.MakeRaw(int(cl.Terminal.Fd())); err == nil {
			defer term.Restore(int(cl.Terminal.Fd()), st)
		}
		stop := cl.followSize(conn)
		defer stop()
	}
	detach := make(chan struct{})
	if cl.Stdin != nil {
		go cl.sendInput(conn, detach)
	}
	out := make(chan result, 1)
	go func() { out <- cl.receive(conn) }()
	select {
	case r := <-out:
		return r.code, false, r.err
	case <-detach:
		return 0, true, nil
	}
}

type result struct {
	code int
	err  error
}

func (cl *Client) receive(conn *net.UnixConn) result {
	for {
		kind, p, err := ReadFrame(conn)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return result{125, errors.New("the container's monitor went away before the container exited: see 'husk ps -a'")}
			}
			return result{125, fmt.Errorf("reading from the container: %w", err)}
		}
		switch kind {
		case Stdout:
			_, _ = cl.Stdout.Write(p)
		case Stderr:
			_, _ = cl.Stderr.Write(p)
		case Exit:
			if len(p) == 4 {
				return result{int(int32(binary.BigEndian.Uint32(p))), nil}
			}
		}
	}
}

// sendInput copies input as frames, watching for the detach keys; a
// partial match is held back until it fails or completes.
func (cl *Client) sendInput(conn *net.UnixConn, detach chan struct{}) {
	buf := make([]byte, 32*1024)
	matched := 0
	for {
		n, err := cl.Stdin.Read(buf)
		var out []byte
		for _, b := range buf[:n] {
			if len(cl.DetachKeys) > 0 && b == cl.DetachKeys[matched] {
				matched++
				if matched == len(cl.DetachKeys) {
					if len(out) > 0 {
						_ = WriteFrame(conn, Stdin, out)
					}
					close(detach)
					return
				}
				continue
			}
			out = append(out, cl.DetachKeys[:matched]...)
			matched = 0
			out = append(out, b)
		}
		if len(out) > 0 {
			if WriteFrame(conn, Stdin, out) != nil {
				return
			}
		}
		if err != nil {
			_ = WriteFrame(conn, EOF, nil)
			return
		}
	}
}

// followSize sends the terminal's size now and on each SIGWINCH.
func (cl *Client) followSize(conn *net.UnixConn) func() {
	send := func() {
		if ws, err := pty.GetsizeFull(cl.Terminal); err == nil {
			_ = WriteFrame(conn, Resize, sizePayload(ws.Rows, ws.Cols))
		}
	}
	send()
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, unix.SIGWINCH)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ch:
				send()
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

// ParseDetachKeys reads Docker's --detach-keys: a comma-separated list of
// single characters and ctrl-<char>.
func ParseDetachKeys(s string) ([]byte, error) {
	var out []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case strings.HasPrefix(k, "ctrl-") && len(k) == 6:
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				out = append(out, c-'a'+1)
			case c == '@' || c == '[' || c == '\\' || c == ']' || c == '^' || c == '_':
				out = append(out, c&0x1f)
			default:
				return nil, fmt.Errorf("invalid --detach-keys %q: %q is not a control key: use ctrl-a to ctrl-z, or one of ctrl-@ ctrl-[ ctrl-\\ ctrl-] ctrl-^ ctrl-_", s, k)
			}
		default:
			return nil, fmt.Errorf("invalid --detach-keys %q: use a comma-separated list of characters and ctrl-<key>", s)
		}
	}
	return out, nil
}
