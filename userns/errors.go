package userns

import (
	"errors"
	"fmt"
)

// Error is one failure of husk's namespace set-up: the operation, the object
// it acted on, the cause and the one line that fixes it. It prints as
// "op object: cause: fix", and errors.Is sees the cause (unix.EPERM ...).
type Error struct {
	Op   string // "creating the user namespace", "mapping uids" ...
	Path string // the file, binary or user acted on; may be empty
	Err  error
	Fix  string // one line; may be empty
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

// FixHint is the one line that fixes the problem ("" when unknown).
func (e *Error) FixHint() string { return e.Fix }

// FixOf returns the fix carried by err or anything it wraps, or "".
func FixOf(err error) string {
	var f interface{ FixHint() string }
	if errors.As(err, &f) {
		return f.FixHint()
	}
	return ""
}

func newError(op, path string, err error, fix string, args ...any) *Error {
	if len(args) > 0 {
		fix = fmt.Sprintf(fix, args...)
	}
	return &Error{Op: op, Path: path, Err: err, Fix: fix}
}
