package container

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// StartTime is the start time of process pid in clock ticks since boot
// (field 22 of /proc/PID/stat), 0 when there is no such process. With the
// pid it names one process for good: pids are reused, start times are not.
func StartTime(pid int) uint64 {
	if pid <= 0 {
		return 0
	}
	f := statFields(pid)
	if len(f) < 20 {
		return 0
	}
	t, _ := strconv.ParseUint(f[19], 10, 64)
	return t
}

func alive(pid int, start uint64) bool {
	return pid > 0 && start != 0 && StartTime(pid) == start
}

// InitAlive reports whether the container's init still runs.
func (c *Container) InitAlive() bool { return alive(c.InitPID, c.InitStart) }

// Processes are the host pids of a container's processes: the init's
// descendants, found by parent pid in /proc/PID/stat (which anyone may read,
// whatever uid a process runs as inside), and the processes in its pid
// namespace that are not (husk exec's, which enter from outside; their
// namespace link is readable for the user's own uid only). The init itself,
// husk's, is left out.
func Processes(init int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	var all []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		all = append(all, pid)
		if pp := parentOf(pid); pp > 0 {
			children[pp] = append(children[pp], pid)
		}
	}
	seen := map[int]bool{init: true}
	var out []int
	for queue := children[init]; len(queue) > 0; queue = queue[1:] {
		if p := queue[0]; !seen[p] {
			seen[p] = true
			out = append(out, p)
			queue = append(queue, children[p]...)
		}
	}
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", init))
	if err != nil {
		return out
	}
	for _, pid := range all {
		if !seen[pid] {
			if l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid)); err == nil && l == ns {
				out = append(out, pid)
			}
		}
	}
	return out
}

// statFields are the fields of /proc/PID/stat after the command name, so
// that f[0] is field 3 (state); nil when the process is gone. The name may
// hold spaces and parentheses: fields count from the last ')'.
func statFields(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

func parentOf(pid int) int {
	f := statFields(pid)
	if len(f) < 2 {
		return 0
	}
	pp, _ := strconv.Atoi(f[1])
	return pp
}

// Usage is what a process has used: CPU time in clock ticks (user plus
// system) and resident memory in pages.
func Usage(pid int) (ticks, rssPages uint64) {
	f := statFields(pid)
	if len(f) < 22 {
		return 0, 0
	}
	u, _ := strconv.ParseUint(f[11], 10, 64)
	s, _ := strconv.ParseUint(f[12], 10, 64)
	rss, _ := strconv.ParseUint(f[21], 10, 64)
	return u + s, rss
}
