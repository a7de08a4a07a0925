package network

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
)

// DialFunc returns a socket connected to port inside the sandbox (Dialer).
type DialFunc = func(proto string, port int) (*os.File, error)

// Serve forwards the published ports until ctx ends, then closes the
// listeners and every forwarded connection.
func (l *Listeners) Serve(ctx context.Context, dial DialFunc) {
	var wg sync.WaitGroup
	for _, t := range l.tcp {
		wg.Go(func() { l.serveTCP(t, dial) })
	}
	for _, u := range l.udp {
		wg.Go(func() { l.serveUDP(u, dial) })
	}
	<-ctx.Done()
	l.Close()
	wg.Wait()
}

func (l *Listeners) serveTCP(t tcpListener, dial DialFunc) {
	for {
		c, err := t.ln.AcceptTCP()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			l.report(fmt.Errorf("accepting on %s: %w", t.port, err))
			continue
		}
		go l.forwardTCP(c, t.port, dial)
	}
}

// forwardTCP joins a host connection to a new one inside the sandbox.
func (l *Listeners) forwardTCP(host *net.TCPConn, p Port, dial DialFunc) {
	l.forward(host, p, func() (net.Conn, error) {
		f, err := dial("tcp", p.ContainerPort)
		if err != nil {
			return nil, err
		}
		return fileConn(f)
	})
}

// forward joins c to the connection that connect makes for p; Close
// closes both.
func (l *Listeners) forward(c *net.TCPConn, p Port, connect func() (net.Conn, error)) {
	if !l.track(c) {
		return
	}
	defer l.untrack(c)
	other, err := connect()
	if err != nil {
		l.report(fmt.Errorf("forwarding %s: %w", p, err))
		return
	}
	if !l.track(other) {
		return
	}
	defer l.untrack(other)
	if o, ok := other.(*net.TCPConn); ok {
		join(c, o)
	}
}

// join copies both ways until both are done. io.Copy between two
// *net.TCPConn is splice(2) through a pipe: the bytes stay in the kernel.
// A clean end of one direction is passed on as a half close, as TCP has
// it; an error ends both.
func join(a, b *net.TCPConn) {
	var wg sync.WaitGroup
	one := func(dst, src *net.TCPConn) {
		if _, err := io.Copy(dst, src); err != nil {
			a.Close()
			b.Close()
			return
		}
		dst.CloseWrite()
	}
	wg.Go(func() { one(a, b) })
	one(b, a)
	wg.Wait()
}

// track registers c to be closed by Close; false (and c closed) if the
// listeners are already closed.
func (l *Listeners) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conns == nil {
		c.Close()
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *Listeners) untrack(c net.Conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
	c.Close()
}

func (l *Listeners) report(err error) {
	if l.OnError != nil {
		l.OnError(err)
	}
}

// fileConn turns a passed socket into a net.Conn and closes the file.
func fileConn(f *os.File) (net.Conn, error) {
	defer f.Close()
	return net.FileConn(f)
}
