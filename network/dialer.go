package network

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"husk/sandbox/abi"
)

// The published-port fast path (after rootlesskit's builtin port driver):
// the monitor accepts on the host, the sandbox side connects to the port
// inside the network namespace and passes the connected socket back, and
// the monitor splices between the two sockets. No byte crosses a userspace
// stack.
//
// Each dial gets its own SOCK_SEQPACKET socketpair, whose one end travels
// over the init's connection: dials run concurrently, a slow one holds up
// no other, and the init's connection carries nothing but those ends.
// A request is the protocol's byte and the port; the reply abi.DialOK with
// the socket, or abi.DialFailed and why (abi.h; the C init answers them, net.c).

type dialRequest struct {
	Proto string
	Port  int
}

func (r dialRequest) encode() ([]byte, error) {
	b := make([]byte, abi.DialRequestLen)
	switch r.Proto {
	case "tcp":
		b[0] = abi.DialTCP
	case "udp":
		b[0] = abi.DialUDP
	default:
		return nil, fmt.Errorf("unknown protocol %q", r.Proto)
	}
	if r.Port <= 0 || r.Port > 65535 {
		return nil, fmt.Errorf("port %d is not one from 1 to 65535", r.Port)
	}
	binary.BigEndian.PutUint16(b[1:], uint16(r.Port))
	return b, nil
}

// Dialer is the monitor's side of the init's dial serving (net.c): it returns the connected
// socket of proto ("tcp" or "udp") to port inside the sandbox.
func Dialer(conn *net.UnixConn) func(proto string, port int) (*os.File, error) {
	return func(proto string, port int) (*os.File, error) {
		f, err := dial(conn, dialRequest{Proto: proto, Port: port})
		if err != nil {
			return nil, fmt.Errorf("connecting to port %d/%s in the sandbox: %w", port, proto, err)
		}
		return f, nil
	}
}

// dialTimeout bounds a dial's round trip to the init, whose own connect
// waits at most 2 s for a full listen backlog (reaper.c).
const dialTimeout = 10 * time.Second

func dial(conn *net.UnixConn, req dialRequest) (*os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "dial"), os.NewFile(uintptr(fds[1]), "dial")
	err = SendFile(conn, theirs)
	theirs.Close()
	if err != nil {
		mine.Close()
		return nil, fmt.Errorf("reaching the sandbox's init: %w", err)
	}
	c, err := fileUnixConn(mine)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(dialTimeout + 5*time.Second))
	b, err := req.encode()
	if err != nil {
		return nil, err
	}
	if _, err := c.Write(b); err != nil {
		return nil, err
	}
	return readReply(c)
}

func readReply(c *net.UnixConn) (*os.File, error) {
	msg, f, err := recvMsg(c, 4096)
	if errors.Is(err, io.EOF) {
		return nil, errors.New("the sandbox's init closed the request unanswered")
	}
	if err != nil {
		return nil, err
	}
	if len(msg) == 0 || msg[0] != abi.DialOK {
		if f != nil {
			f.Close()
		}
		if len(msg) > 1 && msg[0] == abi.DialFailed {
			return nil, errors.New(string(msg[1:]))
		}
		return nil, fmt.Errorf("reading the reply: %q is not one", msg)
	}
	if f == nil {
		return nil, errors.New("the reply carried no socket")
	}
	return f, nil
}

// fileUnixConn turns a socket file into a *net.UnixConn and closes the file
// (net.FileConn keeps its own duplicate).
func fileUnixConn(f *os.File) (*net.UnixConn, error) {
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("%s is not a unix socket", f.Name())
	}
	return uc, nil
}
