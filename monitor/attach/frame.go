// Package attach is the protocol between a container's monitor and the
// clients that attach to it (attach, start -a): frames over a unix socket,
// so stdout and stderr stay apart and resizes travel beside the input.
package attach

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Frame kinds. Output and the exit code go from the monitor to clients;
// input, its end and window sizes from a client to the monitor.
const (
	Stdin  byte = 0
	Stdout byte = 1
	Stderr byte = 2
	Resize byte = 3 // payload: rows, cols as two big-endian uint16
	EOF    byte = 4 // the client's input ended
	Exit   byte = 5 // payload: the exit code as a big-endian int32
	Ready  byte = 6 // the client has sent its window size, if it has one
)

// maxFrame bounds a frame's payload, so a broken peer cannot make the
// other side allocate without limit.
const maxFrame = 1 << 20

// WriteFrame writes one frame.
func WriteFrame(w io.Writer, kind byte, p []byte) error {
	hdr := make([]byte, 5, 5+len(p))
	hdr[0] = kind
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(p)))
	_, err := w.Write(append(hdr, p...))
	return err
}

// ReadFrame reads one frame.
func ReadFrame(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("attach: a frame of %d bytes is too large", n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, err
	}
	return hdr[0], p, nil
}

func sizePayload(rows, cols uint16) []byte {
	var p [4]byte
	binary.BigEndian.PutUint16(p[0:], rows)
	binary.BigEndian.PutUint16(p[2:], cols)
	return p[:]
}

func exitPayload(code int) []byte {
	var p [4]byte
	binary.BigEndian.PutUint32(p[:], uint32(int32(code)))
	return p[:]
}
