package network

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// SendFile passes f over c (SCM_RIGHTS) as a one-byte message. One byte,
// always, so that a SOCK_STREAM socketpair keeps messages apart as well as
// a SOCK_SEQPACKET one. The caller still owns f.
func SendFile(c *net.UnixConn, f *os.File) error {
	return sendMsg(c, []byte{0}, f)
}

// RecvFile receives a file sent by SendFile. io.EOF means the peer closed.
func RecvFile(c *net.UnixConn) (*os.File, error) {
	_, f, err := recvMsg(c, 1)
	if err == nil && f == nil {
		err = errors.New("receiving a file descriptor: the message carried none")
	}
	return f, err
}

// sendMsg writes payload with f's descriptor attached, or none for a nil f.
func sendMsg(c *net.UnixConn, payload []byte, f *os.File) error {
	if f == nil {
		_, err := c.Write(payload)
		return err
	}
	raw, err := f.SyscallConn() // not f.Fd(), which would make f blocking
	if err != nil {
		return err
	}
	var werr error
	cerr := raw.Control(func(fd uintptr) {
		_, _, werr = c.WriteMsgUnix(payload, unix.UnixRights(int(fd)), nil)
	})
	if werr != nil {
		return fmt.Errorf("passing %s: %w", f.Name(), werr)
	}
	return cerr
}

// recvMsg reads one message of at most size bytes and the descriptor that
// came with it, if any; extra descriptors are closed, not leaked.
func recvMsg(c *net.UnixConn, size int) ([]byte, *os.File, error) {
	buf := make([]byte, size)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob) // the net package sets MSG_CMSG_CLOEXEC
	if err != nil {
		return nil, nil, err
	}
	if n == 0 && oobn == 0 {
		return nil, nil, io.EOF
	}
	fds, err := parseRights(oob[:oobn])
	if err != nil {
		return nil, nil, err
	}
	var f *os.File
	for i, fd := range fds {
		if i == 0 {
			f = os.NewFile(uintptr(fd), "passed-fd")
			continue
		}
		unix.Close(fd)
	}
	return buf[:n], f, nil
}

func parseRights(oob []byte) ([]int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("parsing the control message: %w", err)
	}
	var fds []int
	for _, m := range msgs {
		got, err := unix.ParseUnixRights(&m)
		if err != nil {
			return nil, fmt.Errorf("parsing the passed descriptors: %w", err)
		}
		fds = append(fds, got...)
	}
	return fds, nil
}
