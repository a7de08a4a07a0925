package seccomp

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Support is what this kernel and the linked libseccomp offer.
type Support struct {
	Enabled bool   // the kernel has seccomp filters (SECCOMP_MODE_FILTER)
	Mode    int    // this process's own mode (/proc/self/status Seccomp): 0 none, 1 strict, 2 filter
	Library string // libseccomp's version, "2.5.4"
	Err     error  // why filters cannot be used, with the fix
}

// CheckSupport looks at the kernel and the library. The kernel test is
// runc's and libseccomp's: PR_SET_SECCOMP with a NULL filter fails with
// EFAULT where filters exist and EINVAL where they do not; nothing is
// installed either way.
func CheckSupport() Support {
	var s Support
	s.Mode = statusMode()
	err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, 0, 0, 0)
	s.Enabled = errors.Is(err, unix.EFAULT)
	maj, min, mic := libseccomp.GetLibraryVersion()
	s.Library = fmt.Sprintf("%d.%d.%d", maj, min, mic)
	if !s.Enabled {
		s.Err = &supportProblem{fmt.Sprintf("seccomp filters are not available in this kernel (%v)", err),
			"use a kernel built with CONFIG_SECCOMP_FILTER, or run with --security-opt seccomp=unconfined"}
	}
	return s
}

// statusMode reads the Seccomp field of /proc/self/status (-1 if absent).
func statusMode() int {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Seccomp:"); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
				return n
			}
		}
	}
	return -1
}

// supportProblem is a missing prerequisite and the line that fixes it.
type supportProblem struct{ what, fix string }

func (p *supportProblem) Error() string   { return p.what + ": " + p.fix }
func (p *supportProblem) FixHint() string { return p.fix }
