package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// processReport describes this user's processes, one a line: pid, parent,
// process group, state, where each thread waits in the kernel (wchan) and
// the system call it is in, and the command line. A command that outlives
// its time limit is reported with it before it is killed, so that a hang
// seen once in CI says where it waited.
func processReport() string {
	uid := strconv.Itoa(os.Getuid())
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	sort.Slice(dirs, func(i, j int) bool { return pidOf(dirs[i]) < pidOf(dirs[j]) })
	var b strings.Builder
	for _, d := range dirs {
		status, err := os.ReadFile(d + "/status")
		if err != nil || word(status, "Uid") != uid {
			continue
		}
		cmdline, _ := os.ReadFile(d + "/cmdline")
		fmt.Fprintf(&b, "  pid %s ppid %s pgid %s %s threads[%s]: %s\n", filepath.Base(d),
			word(status, "PPid"), word(status, "NSpgid"), statusField(string(status), "State"), threadWaits(d),
			strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " ")))
	}
	return b.String()
}

// threadWaits is each thread's wchan and system call number, counted.
func threadWaits(proc string) string {
	tasks, _ := filepath.Glob(proc + "/task/[0-9]*")
	count := map[string]int{}
	for _, t := range tasks {
		wchan, _ := os.ReadFile(t + "/wchan")
		sc, _ := os.ReadFile(t + "/syscall")
		call := "?"
		if f := strings.Fields(string(sc)); len(f) > 0 {
			call = f[0]
		}
		count[string(wchan)+"/"+call]++
	}
	var out []string
	for k, n := range count {
		out = append(out, fmt.Sprintf("%s×%d", k, n))
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// word is the first word of status's field NAME.
func word(status []byte, name string) string {
	f := strings.Fields(statusField(string(status), name))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func pidOf(dir string) int { n, _ := strconv.Atoi(filepath.Base(dir)); return n }
