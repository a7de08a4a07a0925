package network

import (
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

const (
	// maxInFlight bounds the handshakes waiting for the host's connect; a
	// SYN past it is dropped, and the sandbox's kernel sends it again.
	maxInFlight = 512
	// hostDialTimeout is about the sandbox's own connect timeout: past it
	// nobody waits for the answer.
	hostDialTimeout = 60 * time.Second
	// smallBuf and bigBuf are the read sizes of a relay: the stack's
	// throughput grows with the read size up to about bigBuf, and an idle
	// connection should not hold that much.
	smallBuf = 16 << 10
	bigBuf   = 256 << 10
)

var bigBufs = sync.Pool{New: func() any { b := make([]byte, bigBuf); return &b }}

// tcpForwarder answers a sandbox's SYN only once the host's own connect to
// the destination succeeded, so a refused or unreachable port looks the
// same inside the sandbox, then relays the two connections.
func tcpForwarder(s *stack.Stack, nat func(stack.TransportEndpointID) string) *tcp.Forwarder {
	return tcp.NewForwarder(s, 0, maxInFlight, func(r *tcp.ForwarderRequest) {
		out, err := net.DialTimeout("tcp", nat(r.ID()), hostDialTimeout)
		if err != nil {
			r.Complete(true) // a reset
			return
		}
		var wq waiter.Queue
		ep, tcpErr := r.CreateEndpoint(&wq)
		r.Complete(false)
		if tcpErr != nil { // the sandbox gave up meanwhile
			out.Close()
			return
		}
		relay(gonet.NewTCPConn(&wq, ep), out.(*net.TCPConn))
	})
}

// halfCloser is a TCP connection of either kind.
type halfCloser interface {
	net.Conn
	CloseWrite() error
}

// relay copies both ways until both are done, passing a clean end of one
// direction on as a half close; an error ends both.
func relay(a, b halfCloser) {
	var wg sync.WaitGroup
	one := func(dst, src halfCloser) {
		if err := copyAdaptive(dst, src); err != nil {
			a.Close()
			b.Close()
			return
		}
		dst.CloseWrite()
	}
	wg.Go(func() { one(a, b) })
	one(b, a)
	wg.Wait()
	a.Close()
	b.Close()
}

// copyAdaptive copies with a small buffer while reads come back short and
// with a big pooled one while they fill it: bulk transfers move large
// chunks, and a thousand idle connections hold 16 MiB, not 256 MiB.
func copyAdaptive(dst io.Writer, src io.Reader) error {
	buf := make([]byte, smallBuf)
	small := buf
	var big *[]byte
	defer func() {
		if big != nil {
			bigBufs.Put(big)
		}
	}()
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case n == len(buf) && big == nil:
			big = bigBufs.Get().(*[]byte)
			buf = *big
		case n < smallBuf && big != nil:
			bigBufs.Put(big)
			big, buf = nil, small
		}
	}
}

// hostAddr is where the host dials for a sandbox's connection: the
// destination itself, or the host's loopback for the gateway.
func hostAddr(cfg Config) func(stack.TransportEndpointID) string {
	return func(id stack.TransportEndpointID) string {
		host := id.LocalAddress.String()
		if id.LocalAddress == addr(cfg.Gateway) {
			host = "127.0.0.1"
		}
		return net.JoinHostPort(host, strconv.Itoa(int(id.LocalPort)))
	}
}
