package seccomp

import (
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// idCalls change a process's ids or a file's owner, by the capability
// that allows them. With the single mapping only one id exists inside
// (root), so every such call either changes nothing or fails with
// EPERM/EINVAL; package managers (apt's setgroups to _apt, dpkg's chown
// of every file) stop at the failure. The 32-bit names serve the i386 ABI
// that Docker's profile also covers.
var idCalls = map[string][]string{
	"CAP_SETGID": {"setgroups", "setgroups32", "setgid", "setgid32", "setregid", "setregid32",
		"setresgid", "setresgid32", "setfsgid", "setfsgid32"},
	"CAP_SETUID": {"setuid", "setuid32", "setreuid", "setreuid32", "setresuid", "setresuid32", "setfsuid", "setfsuid32"},
	"CAP_CHOWN":  {"chown", "chown32", "fchown", "fchown32", "lchown", "lchown32", "fchownat"},
}

// FakeIDs is Charliecloud's --force=seccomp for the single mapping: the
// id-changing calls return success without effect, and so does mknod of a
// device node, which the user namespace never allows. Every call of
// idCalls is faked, to any id: to the one mapped id it would have had no
// effect anyway. Only calls whose capability is in caps (the bounding
// set) are faked, so that --cap-drop CHOWN still makes chown fail. mknod
// of a FIFO, socket or regular file still runs. The profile is copied,
// not changed.
func FakeIDs(p *specs.LinuxSeccomp, caps []string) *specs.LinuxSeccomp {
	out := *p
	var calls, faked []string
	for _, c := range []string{"CAP_SETGID", "CAP_SETUID", "CAP_CHOWN"} {
		if slices.Contains(caps, c) {
			calls = append(calls, idCalls[c]...)
		}
	}
	faked = slices.Clone(calls)
	mknod := slices.Contains(caps, "CAP_MKNOD")
	if mknod {
		faked = append(faked, "mknod", "mknodat")
	}
	out.Syscalls = nil
	for _, r := range p.Syscalls {
		r.Names = slices.DeleteFunc(slices.Clone(r.Names), func(n string) bool { return slices.Contains(faked, n) })
		if len(r.Names) > 0 {
			out.Syscalls = append(out.Syscalls, r)
		}
	}
	zero := uint(0)
	if len(calls) > 0 {
		out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{Names: calls, Action: specs.ActErrno, ErrnoRet: &zero})
	}
	if !mknod {
		return &out
	}
	// The mode is mknod's second argument and mknodat's third: one rule
	// per file type, each an exact match of the type bits.
	for _, c := range []struct {
		name string
		arg  uint
	}{{"mknod", 1}, {"mknodat", 2}} {
		for _, t := range []uint64{unix.S_IFCHR, unix.S_IFBLK} {
			out.Syscalls = append(out.Syscalls, modeRule(c.name, c.arg, t, specs.ActErrno, &zero))
		}
		for _, t := range []uint64{0, unix.S_IFREG, unix.S_IFIFO, unix.S_IFSOCK} {
			out.Syscalls = append(out.Syscalls, modeRule(c.name, c.arg, t, specs.ActAllow, nil))
		}
	}
	return &out
}

func modeRule(name string, arg uint, fileType uint64, act specs.LinuxSeccompAction, errno *uint) specs.LinuxSyscall {
	return specs.LinuxSyscall{Names: []string{name}, Action: act, ErrnoRet: errno, Args: []specs.LinuxSeccompArg{
		{Index: arg, Value: unix.S_IFMT, ValueTwo: fileType, Op: specs.OpMaskedEqual},
	}}
}
