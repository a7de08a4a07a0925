package attach

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/creack/pty"
)

// Hub is the monitor's side: it fans the container's output out to every
// attached client and feeds their input to the container.
type Hub struct {
	ln      *net.UnixListener
	first   chan struct{} // closed when the first client is ready
	once    sync.Once
	mu      sync.Mutex
	clients map[*net.UnixConn]bool
	input   io.WriteCloser // the container's stdin or pty master; nil: none
	console *os.File       // the pty master, for window sizes
	size    *pty.Winsize   // the last size a client sent: a run's own, sent before its pty exists
}

// Listen makes the attach socket at path, readable by the user only.
func Listen(path string) (*Hub, error) {
	_ = os.Remove(path) // a monitor killed before it could remove it
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("creating the attach socket %s: %w", path, err)
	}
	_ = os.Chmod(path, 0o600)
	h := &Hub{ln: ln, first: make(chan struct{}), clients: map[*net.UnixConn]bool{}}
	go h.accept()
	return h, nil
}

// WaitClient waits for a client to be ready (start -a and run -t attach
// before the process starts, so it misses no output and its pty has the
// client's window size from the start), at most d.
func (h *Hub) WaitClient(d time.Duration) {
	select {
	case <-h.first:
	case <-time.After(d):
	}
}

func (h *Hub) accept() {
	for {
		c, err := h.ln.AcceptUnix()
		if err != nil {
			return
		}
		h.mu.Lock()
		h.clients[c] = true
		h.mu.Unlock()
		go h.serve(c)
	}
}

// serve reads one client's frames until it goes.
func (h *Hub) serve(c *net.UnixConn) {
	defer h.drop(c)
	for {
		kind, p, err := ReadFrame(c)
		if err != nil {
			return
		}
		h.mu.Lock()
		in, con := h.input, h.console
		h.mu.Unlock()
		switch {
		case kind == Stdin && in != nil:
			_, _ = in.Write(p)
		case kind == EOF && in != nil && con == nil:
			_ = in.Close() // the process sees the end of its input
		case kind == Resize && len(p) == 4:
			h.resize(&pty.Winsize{Rows: uint16(p[0])<<8 | uint16(p[1]), Cols: uint16(p[2])<<8 | uint16(p[3])})
		case kind == Ready:
			// Frames are read in order: a size sent before is kept by now.
			h.once.Do(func() { close(h.first) })
		}
	}
}

func (h *Hub) drop(c *net.UnixConn) {
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
	c.Close()
}

// SetInput gives the hub the current start's input: the write end of the
// process's stdin pipe, or with a terminal the pty master (console too).
func (h *Hub) SetInput(in io.WriteCloser, console *os.File) {
	h.mu.Lock()
	h.input, h.console = in, console
	if console != nil && h.size != nil {
		_ = pty.Setsize(console, h.size)
	}
	h.mu.Unlock()
}

// resize sets the pty's window size, or keeps it for the pty to come.
func (h *Hub) resize(ws *pty.Winsize) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.size = ws
	if h.console != nil {
		_ = pty.Setsize(h.console, ws)
	}
}

// Output is a writer for one stream: to the log, then to every client. A
// client that cannot keep up is dropped rather than stall the container.
func (h *Hub) Output(kind byte, log io.Writer) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		if log != nil {
			_, _ = log.Write(p)
		}
		h.broadcast(kind, p)
		return len(p), nil
	})
}

func (h *Hub) broadcast(kind byte, p []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if err := WriteFrame(c, kind, p); err != nil {
			delete(h.clients, c)
			c.Close()
		}
	}
}

// Exit tells every client the exit code and lets them go.
func (h *Hub) Exit(code int) {
	h.broadcast(Exit, exitPayload(code))
	h.mu.Lock()
	for c := range h.clients {
		c.CloseWrite()
	}
	h.mu.Unlock()
}

// Close removes the socket; clients still attached see its end.
func (h *Hub) Close() {
	_ = h.ln.Close()
	h.mu.Lock()
	for c := range h.clients {
		c.Close()
	}
	h.clients = map[*net.UnixConn]bool{}
	h.mu.Unlock()
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// ErrNotRunning is an attach to a container with no monitor.
var ErrNotRunning = errors.New("the container is not running")
