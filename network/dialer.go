package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
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

type dialRequest struct {
	Proto string `json:"proto"`
	Port  int    `json:"port"`
}

type dialReply struct {
	Error string `json:"error,omitempty"`
}

// dialTimeout bounds a connect to a full listen backlog inside the sandbox.
const dialTimeout = 10 * time.Second

// ServeDialer runs in the sandbox's network namespace and answers the
// monitor's dials on conn until the monitor closes it (nil) or conn fails.
func ServeDialer(conn *net.UnixConn) error {
	for {
		f, err := RecvFile(conn)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("serving published ports: %w", err)
		}
		go serveDial(f)
	}
}

// serveDial answers one request on its own socketpair end.
func serveDial(f *os.File) {
	c, err := fileUnixConn(f)
	if err != nil {
		return
	}
	defer c.Close()
	var req dialRequest
	msg, _, err := recvMsg(c, 512)
	if err == nil {
		err = json.Unmarshal(msg, &req)
	}
	if err != nil {
		return
	}
	sock, err := dialInside(req)
	var rep dialReply
	if err != nil {
		rep.Error = err.Error()
	}
	b, _ := json.Marshal(rep)
	sendMsg(c, b, sock)
	if sock != nil {
		sock.Close()
	}
}

// dialInside connects to the port on the sandbox's loopback, where a
// service bound to 0.0.0.0 or 127.0.0.1 answers alike.
func dialInside(req dialRequest) (*os.File, error) {
	if req.Proto != "tcp" && req.Proto != "udp" {
		return nil, fmt.Errorf("unknown protocol %q", req.Proto)
	}
	c, err := net.DialTimeout(req.Proto, net.JoinHostPort("127.0.0.1", strconv.Itoa(req.Port)), dialTimeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.(interface{ File() (*os.File, error) }).File()
}

// Dialer is the monitor's side of ServeDialer: it returns the connected
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
	b, _ := json.Marshal(req)
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
	var rep dialReply
	if err := json.Unmarshal(msg, &rep); err != nil {
		if f != nil {
			f.Close()
		}
		return nil, fmt.Errorf("reading the reply: %w", err)
	}
	if rep.Error != "" {
		if f != nil {
			f.Close()
		}
		return nil, errors.New(rep.Error)
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
