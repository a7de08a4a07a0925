package userns

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// sysctl is one kernel switch that can forbid unprivileged user namespaces.
type sysctl struct {
	path string // under /proc/sys
	bad  string // the value that forbids them
	why  string
	fix  string
}

// The switches rootlesskit's checkPreflight and podman's documentation name.
var sysctls = []sysctl{
	{"user/max_user_namespaces", "0",
		"user namespaces are disabled",
		"ask the admin to run: sudo sysctl -w user.max_user_namespaces=28633 (and set it in /etc/sysctl.d/ to keep it)"},
	{"kernel/unprivileged_userns_clone", "0",
		"unprivileged user namespaces are disabled (Debian's switch)",
		"ask the admin to run: sudo sysctl -w kernel.unprivileged_userns_clone=1 (and set it in /etc/sysctl.d/ to keep it)"},
	{"kernel/apparmor_restrict_unprivileged_userns", "1",
		"AppArmor denies capabilities in unprivileged user namespaces (Ubuntu 24.04 and later)",
		"ask the admin to run: sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or to install an AppArmor profile for husk with the userns rule"},
}

// procSys is where the switches are read; tests point it elsewhere.
var procSys = "/proc/sys"

// Preflight checks, before any clone, the kernel switches that forbid
// unprivileged user namespaces. Each returned error is one line that names
// the switch and the fix (see FixOf). An empty result means nothing is
// known to be in the way; the clone itself may still fail (see Enter).
func Preflight() []error {
	var errs []error
	for _, s := range sysctls {
		p := procSys + "/" + s.path
		b, err := os.ReadFile(p)
		if err != nil {
			continue // the switch does not exist on this kernel
		}
		if strings.TrimSpace(string(b)) == s.bad {
			name := strings.ReplaceAll(s.path, "/", ".")
			errs = append(errs, newError("checking", name,
				fmt.Errorf("%s = %s: %s", name, s.bad, s.why), s.fix))
		}
	}
	return errs
}

// cloneError turns a failed clone (or map write) into the line that names
// the likely cause. EPERM: the switches above, a seccomp filter of an outer
// container, or a chroot; ENOSPC: the namespace limit or nesting depth.
func cloneError(err error) error {
	op := "creating the user namespace"
	switch {
	case errors.Is(err, unix.ENOSPC):
		return newError(op, "", err,
			"the limit of user namespaces is reached: ask the admin to raise user.max_user_namespaces, or leave nested containers")
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		if pf := Preflight(); len(pf) > 0 {
			return pf[0]
		}
		return newError(op, "", err,
			"unprivileged user namespaces are not allowed here (an outer container's seccomp profile, a chroot, or a kernel switch): ask the admin to allow them")
	case errors.Is(err, unix.EINVAL):
		return newError(op, "", err, "this kernel lacks user namespaces (CONFIG_USER_NS): use a kernel with them")
	}
	return newError(op, "", err, "")
}
