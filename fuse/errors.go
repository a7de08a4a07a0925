package fuse

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// Error is a failure with its fix: "op path: cause: fix". errors.Is sees
// the cause.
type Error struct {
	Op   string
	Path string
	Err  error
	Fix  string
	// Cause is kept for errors.Is when Op already says it all in words.
	Cause error
}

func (e *Error) Error() string {
	s := e.Op
	if e.Path != "" {
		s += " " + e.Path
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.Fix != "" {
		s += ": " + e.Fix
	}
	return s
}

func (e *Error) Unwrap() error {
	if e.Err != nil {
		return e.Err
	}
	return e.Cause
}
func (e *Error) FixHint() string { return e.Fix }

// mountError is a failed mount(2) or umount2(2), named as runc names it:
// "mount overlay on /x (lowerdir=...): operation not permitted".
type mountError struct {
	op     string // "mount" or "unmount"
	source string
	target string
	fstype string
	data   string
	err    error
}

func (e *mountError) Error() string {
	var b strings.Builder
	b.WriteString(e.op)
	if e.source != "" {
		b.WriteString(" " + e.source)
	}
	if e.op == "mount" {
		b.WriteString(" on")
	}
	b.WriteString(" " + e.target)
	if e.fstype != "" && e.fstype != e.source {
		fmt.Fprintf(&b, " (type %s)", e.fstype)
	}
	if e.data != "" {
		fmt.Fprintf(&b, " (%s)", e.data)
	}
	return b.String() + ": " + e.err.Error()
}

func (e *mountError) Unwrap() error { return e.err }

func mount(source, target, fstype, data string) error {
	if err := unix.Mount(source, target, fstype, 0, data); err != nil {
		return &mountError{op: "mount", source: source, target: target, fstype: fstype, data: data, err: err}
	}
	return nil
}

// unmount detaches target; a busy FUSE daemon or an open file must not
// keep the probe's directory mounted.
func unmount(target string) error {
	err := unix.Unmount(target, 0)
	if err == unix.EBUSY {
		err = unix.Unmount(target, unix.MNT_DETACH)
	}
	if err != nil {
		return &mountError{op: "unmount", target: target, err: err}
	}
	return nil
}
