package fuse

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"

	"husk/userns"
)

// Error is userns's: "op path: cause: fix", the fix read by userns.FixOf.
type Error = userns.Error

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
