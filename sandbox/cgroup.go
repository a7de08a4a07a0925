package sandbox

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Cgroup versions as `husk info` prints them.
const (
	CgroupV1     = "v1"
	CgroupV2     = "v2"
	CgroupHybrid = "hybrid" // v1 controllers, with an empty v2 tree at /sys/fs/cgroup/unified
)

const cgroupRoot = "/sys/fs/cgroup"

// CgroupInfo says whether husk can put a sandbox into a cgroup of its own
// to limit it (--memory, --cpus): only on v2, and only in a subtree the
// user was given (systemd's Delegate=yes).
type CgroupInfo struct {
	Version     string
	Path        string   // the delegated directory (or the process's own cgroup)
	Delegated   bool     // the user may create child cgroups there
	Controllers []string // the controllers available there
	Err         error    // why limits are unavailable, with the fix
}

// CheckCgroup finds the cgroup version from the filesystem at
// /sys/fs/cgroup, and on v2 whether the user's cgroup is delegated.
func CheckCgroup() CgroupInfo {
	ci := CgroupInfo{Version: cgroupVersion()}
	if ci.Version != CgroupV2 {
		ci.Err = &cgroupProblem{"cgroup " + ci.Version + ": resource limits (memory, CPU, pids) need cgroup v2",
			"ask the admin to boot with systemd.unified_cgroup_hierarchy=1"}
		return ci
	}
	own := ownCgroup()
	for _, dir := range []string{own, userService(own)} {
		if dir != "" && unix.Access(dir, unix.W_OK) == nil {
			ci.Path, ci.Delegated = dir, true
			ci.Controllers = controllers(dir)
			return ci
		}
	}
	ci.Path = own
	ci.Controllers = controllers(own)
	ci.Err = &cgroupProblem{"cgroup " + own + " is not delegated to you: resource limits (memory, CPU, pids) are unavailable",
		"run husk in a delegated scope: systemd-run --user --scope -p Delegate=yes husk ..."}
	return ci
}

func cgroupVersion() string {
	var st unix.Statfs_t
	if unix.Statfs(cgroupRoot, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return CgroupV2
	}
	if unix.Statfs(cgroupRoot+"/unified", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return CgroupHybrid
	}
	return CgroupV1
}

// ownCgroup is the directory of this process's v2 cgroup ("0::/path").
func ownCgroup() string {
	f, err := os.Open("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return filepath.Join(cgroupRoot, p)
		}
	}
	return ""
}

// userService is systemd's user@UID.service above a login session's
// scope: the subtree systemd delegates to the user manager.
func userService(own string) string {
	uid := os.Getuid()
	dir := filepath.Join(cgroupRoot, "user.slice", fmt.Sprintf("user-%d.slice", uid), fmt.Sprintf("user@%d.service", uid))
	if dir == own {
		return ""
	}
	return dir
}

func controllers(dir string) []string {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}

// cgroupProblem is a missing prerequisite and the line that fixes it.
type cgroupProblem struct{ what, fix string }

func (p *cgroupProblem) Error() string   { return p.what + ": " + p.fix }
func (p *cgroupProblem) FixHint() string { return p.fix }
