package sandbox

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"husk/sandbox/reaper"
)

// The C init (package reaper's init.c) takes a Spec that the host side
// has completed: no store to open, nothing to parse but a list of
// NUL-terminated tokens, each record a one-letter tag and its fields.
// It runs the Go init's steps (see run) before a Go runtime would start.

// EnvCInit names the descriptor of the encoded spec for the C init.
const EnvCInit = "HUSK_CINIT"

// CSpec is what the C init needs beyond the Spec: the image's in-use
// lock to hold, and a directory whose absence means the image went away
// before the lock was taken.
type CSpec struct {
	*Spec
	InUse    string
	ImageDir string
}

// CInitSupports reports whether the C init can run s: it resolves paths
// inside the root with openat2 (Linux 5.6); older kernels keep the Go
// init.
func CInitSupports(s *Spec) bool {
	for _, op := range s.RootOps {
		// A vfs root (a bind of a copy) stays with the Go init, which
		// holds the copy in use for the sandbox's life.
		if op.Kind != KindMount && op.Kind != KindFuseOverlay {
			return false
		}
	}
	return openat2Works()
}

func openat2Works() bool {
	fd, err := unix.Openat2(unix.AT_FDCWD, "/", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT})
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
}

type encoder struct{ bytes.Buffer }

func (e *encoder) rec(tag string, fields ...string) {
	e.WriteString(tag)
	e.WriteByte(0)
	for _, f := range fields {
		e.WriteString(f)
		e.WriteByte(0)
	}
}

func (e *encoder) flag(tag string, on bool) {
	if on {
		e.rec(tag)
	}
}

func (e *encoder) op(tag string, o Op) {
	opt := "0"
	if o.Optional {
		opt = "1"
	}
	e.rec(tag, string(o.Kind), o.Source, o.Target, o.FSType, strconv.FormatUint(uint64(o.Flags), 10), o.Data, opt)
}

// Encode turns c into the C init's input.
func (c *CSpec) Encode() ([]byte, error) {
	s := c.Spec
	caps, err := ParseCaps(s.Caps)
	if err != nil {
		return nil, err
	}
	for _, str := range append(append([]string{s.Hostname, s.Cwd, s.User, s.Scratch, c.InUse, c.ImageDir}, s.Args...), s.Env...) {
		if bytes.IndexByte([]byte(str), 0) >= 0 {
			return nil, fmt.Errorf("%q: a NUL byte cannot be passed to a process", str)
		}
	}
	var e encoder
	e.rec("h", s.Hostname)
	e.rec("c", s.Cwd)
	e.rec("u", s.User)
	e.rec("s", s.Scratch)
	e.rec("i", c.InUse)
	e.rec("x", c.ImageDir)
	for _, a := range s.Args {
		e.rec("a", a)
	}
	for _, v := range s.Env {
		e.rec("e", v)
	}
	e.flag("k", s.KeepID)
	e.flag("g", s.NoSetGroups)
	e.flag("l", s.Loopback)
	e.flag("y", s.ReadOnly)
	e.flag("z", s.NoNewPrivs)
	e.flag("t", s.Terminal)
	for _, o := range s.RootOps {
		e.op("r", o)
	}
	for _, f := range s.Files {
		e.rec("f", f.Path, f.Content)
	}
	for _, o := range s.Ops(s.Scratch) {
		e.op("o", o)
	}
	for _, cp := range caps {
		e.rec("p", strconv.Itoa(int(cp)))
	}
	if len(s.SeccompBPF) > 0 {
		e.rec("b", hex.EncodeToString(s.SeccompBPF))
	}
	if n := s.Net; n != nil {
		cfg, err := n.Config.WithDefaults()
		if err != nil {
			return nil, err
		}
		dials := "0"
		if n.Dials {
			dials = "1"
		}
		direct := "0"
		if n.DirectPorts {
			direct = "1"
		}
		mask := net.IP(net.CIDRMask(cfg.Subnet.Bits(), 32)).String()
		e.rec("n", n.Mode, cfg.TapName, cfg.IP.String(), mask, cfg.Gateway.String(), strconv.Itoa(cfg.MTU), dials, direct)
	}
	return e.Bytes(), nil
}

// BecomeC replaces the Go init with the C init running c: the Go side
// found the image in the store and built the spec, the C side applies it
// as for a spec built on the host. It returns only when the exec failed.
func BecomeC(c *CSpec) error {
	b, err := c.Encode()
	if err != nil {
		return err
	}
	// No MFD_CLOEXEC: the descriptor is the C init's input.
	fd, err := unix.MemfdCreate("husk-spec", 0)
	if err != nil {
		return fmt.Errorf("creating the sandbox's spec: %w", err)
	}
	if _, err := unix.Write(fd, b); err != nil {
		unix.Close(fd)
		return fmt.Errorf("writing the sandbox's spec: %w", err)
	}
	if _, err := unix.Seek(fd, 0, 0); err != nil {
		unix.Close(fd)
		return fmt.Errorf("writing the sandbox's spec: %w", err)
	}
	env := append(os.Environ(), fmt.Sprintf("%s=%d", EnvCInit, fd))
	err = reaper.ExecBlocked(os.Args, env)
	unix.Close(fd)
	return fmt.Errorf("starting the sandbox's init: %w", err)
}
