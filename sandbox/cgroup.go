package sandbox

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
// to limit it (--memory, --cpus, --pids-limit, --cpuset-cpus): only on
// v2, and only in a subtree the user was given (systemd's Delegate=yes, a
// job cgroup delegated by slurmd).
type CgroupInfo struct {
	Version     string
	Path        string   // the delegated directory (or the process's own cgroup)
	Delegated   bool     // the user may create child cgroups there
	Controllers []string // the controllers its children can have
	Err         error    // why limits are unavailable, with the fix
}

// CheckCgroup finds the cgroup version from the filesystem at
// /sys/fs/cgroup, and on v2 the delegated subtree nearest this process.
func CheckCgroup() CgroupInfo {
	b, _ := os.ReadFile("/proc/self/cgroup")
	return checkCgroup(cgroupRoot, cgroupVersion(), string(b), os.Getuid())
}

// checkCgroup is CheckCgroup on the cgroup2 tree at root, with the
// content of /proc/self/cgroup and the user's uid: unit tests give it
// a fake tree.
func checkCgroup(root, version, procSelf string, uid int) CgroupInfo {
	ci := CgroupInfo{Version: version}
	if ci.Version != CgroupV2 {
		what := "cgroup v1: resource limits need cgroup v2"
		if ci.Version == CgroupHybrid {
			what = "hybrid cgroups: the controllers are v1's, and the v2 tree has none to delegate"
		}
		ci.Err = &cgroupProblem{what, "ask the admin to boot with systemd.unified_cgroup_hierarchy=1"}
		return ci
	}
	own := ownCgroup(root, procSelf)
	ci.Path = own
	for _, dir := range []string{own, userService(root, uid)} {
		if d := delegated(root, dir, uid); d != "" {
			ci.Path, ci.Delegated, ci.Controllers = d, true, childControllers(d)
			if len(ci.Controllers) == 0 {
				ci.Err = &cgroupProblem{"cgroup " + d + " is delegated to you but has no controllers to give a container",
					"ask the admin to delegate memory, cpu, cpuset and pids (systemd: Delegate=memory cpu cpuset pids)"}
			}
			return ci
		}
	}
	ci.Controllers = controllers(own)
	ci.Err = &cgroupProblem{"cgroup " + own + " is not delegated to you",
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

// ownCgroup is the directory of the v2 cgroup ("0::/path") that
// procSelf, a /proc/PID/cgroup, names.
func ownCgroup(root, procSelf string) string {
	sc := bufio.NewScanner(strings.NewReader(procSelf))
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "0::"); ok {
			return filepath.Join(root, p)
		}
	}
	return ""
}

// userService is systemd's user@UID.service: the subtree systemd
// delegates to the user manager, above a login session's scope.
func userService(root string, uid int) string {
	return filepath.Join(root, "user.slice", fmt.Sprintf("user-%d.slice", uid), fmt.Sprintf("user@%d.service", uid))
}

// delegated is the highest directory from dir up that is delegated to
// uid (it and its cgroup.procs and cgroup.subtree_control are the user's
// and writable), "" when dir is not: a container's cgroup goes below it,
// beside husk's own, which the kernel allows within one delegation.
func delegated(root, dir string, uid int) string {
	found := ""
	for d := dir; d != "" && strings.HasPrefix(d, root+"/"); d = filepath.Dir(d) {
		if !ownedWritable(d, uid) || !ownedWritable(filepath.Join(d, "cgroup.procs"), uid) ||
			!ownedWritable(filepath.Join(d, "cgroup.subtree_control"), uid) {
			break
		}
		found = d
	}
	return found
}

func ownedWritable(path string, uid int) bool {
	var st unix.Stat_t
	return unix.Stat(path, &st) == nil && int(st.Uid) == uid && unix.Access(path, unix.W_OK) == nil
}

// childControllers are the controllers a child of dir can have: those
// enabled for its children, or those it has when it can enable them
// (a cgroup with processes of its own, husk's say, cannot: the kernel's
// no-internal-processes rule).
func childControllers(dir string) []string {
	on := fields(filepath.Join(dir, "cgroup.subtree_control"))
	if len(fields(filepath.Join(dir, "cgroup.procs"))) > 0 {
		return on
	}
	return slices.Compact(slices.Sorted(slices.Values(append(on, controllers(dir)...))))
}

func controllers(dir string) []string {
	return fields(filepath.Join(dir, "cgroup.controllers"))
}

func fields(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	return strings.Fields(string(b))
}

// cgroupProblem is a missing prerequisite and the line that fixes it.
type cgroupProblem struct{ what, fix string }

func (p *cgroupProblem) Error() string   { return p.what + ": " + p.fix }
func (p *cgroupProblem) FixHint() string { return p.fix }
