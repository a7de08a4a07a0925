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
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces and parentheses: fields count from
	// the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
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
