package sandbox

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// mountError names the operation, both paths and the flags, so a user reads
// "mount proc on /proc: operation not permitted" and errors.Is still sees
// the errno (runc's mount_linux.go mountError).
type mountError struct {
	op     string
	source string
	target string
	fstype string
	flags  uintptr
	err    error
}

func (e *mountError) Error() string {
	var b strings.Builder
	b.WriteString(e.op)
	if e.fstype != "" {
		b.WriteString(" " + e.fstype)
	}
	if e.source != "" && e.source != e.fstype {
		b.WriteString(" " + e.source)
	}
	b.WriteString(" on " + e.target)
	if e.flags != 0 {
		fmt.Fprintf(&b, " (%s)", flagNames(e.flags))
	}
	return b.String() + ": " + e.err.Error()
}

func (e *mountError) Unwrap() error { return e.err }

func mount(source, target, fstype string, flags uintptr, data string) error {
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		return &mountError{op: "mount", source: source, target: target, fstype: fstype, flags: flags, err: err}
	}
	return nil
}

var flagList = []struct {
	f    uintptr
	name string
}{
	{unix.MS_RDONLY, "ro"}, {unix.MS_NOSUID, "nosuid"}, {unix.MS_NODEV, "nodev"},
	{unix.MS_NOEXEC, "noexec"}, {unix.MS_BIND, "bind"}, {unix.MS_REC, "rec"},
	{unix.MS_REMOUNT, "remount"}, {unix.MS_PRIVATE, "private"}, {unix.MS_SLAVE, "slave"},
	{unix.MS_STRICTATIME, "strictatime"},
}

func flagNames(flags uintptr) string {
	var names []string
	for _, f := range flagList {
		if flags&f.f != 0 {
			names = append(names, f.name)
		}
	}
	return strings.Join(names, ",")
}
