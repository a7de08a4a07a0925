package attach

import (
	"bytes"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

func TestParseDetachKeys(t *testing.T) {
	for in, want := range map[string][]byte{"ctrl-p,ctrl-q": {0x10, 0x11}, "a,ctrl-@": {'a', 0}, "ctrl-[": {0x1b}} {
		got, err := ParseDetachKeys(in)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("ParseDetachKeys(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"ctrl-1", "abc", ""} {
		if _, err := ParseDetachKeys(bad); err == nil {
			t.Errorf("ParseDetachKeys(%q) accepted", bad)
		}
	}
}

// pipeWriter is a WriteCloser that records what the hub feeds a container.
type pipeWriter struct {
	bytes.Buffer
	closed bool
}

func (p *pipeWriter) Close() error { p.closed = true; return nil }

func TestHubAndClient(t *testing.T) {
	h, err := Listen(filepath.Join(t.TempDir(), "a.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	in := &pipeWriter{}
	h.SetInput(in, nil)
	conn, err := Dial(filepath.Join(filepath.Dir(h.ln.Addr().String()), "a.sock"))
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	stdinR, stdinW := io.Pipe()
	cl := &Client{Stdin: stdinR, Stdout: &out, Stderr: &errb, DetachKeys: []byte{0x10, 0x11}}
	if err := cl.Ready(conn); err != nil {
		t.Fatal(err)
	}
	done := make(chan [2]int, 1)
	go func() {
		code, detached, _ := cl.Run(conn)
		d := 0
		if detached {
			d = 1
		}
		done <- [2]int{code, d}
	}()
	h.WaitClient(5 * time.Second)
	var log bytes.Buffer
	h.Output(Stdout, &log).Write([]byte("hello\n"))
	h.Output(Stderr, nil).Write([]byte("oops\n"))
	// A lone ctrl-p is passed on once the next byte shows it was no detach.
	stdinW.Write([]byte("typed\x10x"))
	time.Sleep(200 * time.Millisecond)
	h.Exit(3)
	select {
	case r := <-done:
		if r != [2]int{3, 0} {
			t.Errorf("client: want code 3, not detached: %v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the client did not end at the exit frame")
	}
	if out.String() != "hello\n" || errb.String() != "oops\n" || log.String() != "hello\n" {
		t.Errorf("streams: out %q err %q log %q", out.String(), errb.String(), log.String())
	}
	if in.String() != "typed\x10x" {
		t.Errorf("input: got %q", in.String())
	}
}

func TestClientDetaches(t *testing.T) {
	stdin := strings.NewReader("ab\x10\x11ignored")
	cl := &Client{Stdin: stdin, Stdout: io.Discard, Stderr: io.Discard, DetachKeys: []byte{0x10, 0x11}}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(t.TempDir(), "s"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.AcceptUnix()
		if err == nil {
			io.Copy(io.Discard, c)
		}
	}()
	conn, err := Dial(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_, detached, err := cl.Run(conn)
	if !detached || err != nil {
		t.Errorf("want detached at ctrl-p ctrl-q: %v %v", detached, err)
	}
}

// A window size sent before the container's pty exists (a run's client
// attaches before its process starts) is given to the pty once it does.
func TestHubKeepsSizeForThePty(t *testing.T) {
	h, err := Listen(filepath.Join(t.TempDir(), "a.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	conn, err := Dial(h.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Connected is not ready: the monitor must not start the process on
	// a bare connection, before the size frame is read.
	start := time.Now()
	h.WaitClient(300 * time.Millisecond)
	if time.Since(start) < 250*time.Millisecond {
		t.Fatal("WaitClient returned on a connection that had not said it was ready")
	}
	if err := WriteFrame(conn, Resize, sizePayload(33, 111)); err != nil {
		t.Fatal(err)
	}
	if err := WriteFrame(conn, Ready, nil); err != nil {
		t.Fatal(err)
	}
	h.WaitClient(5 * time.Second)
	master, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer tty.Close()
	h.SetInput(master, master)
	rows, cols, err := pty.Getsize(tty)
	if err != nil || rows != 33 || cols != 111 {
		t.Errorf("the pty's size after SetInput: %dx%d, %v; want 33x111", rows, cols, err)
	}
}
