package sandbox

import (
	"bufio"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// TrimMemory gives back what a long-lived husk process (a container's init
// or monitor) no longer needs once the container runs: freed heap, and
// the pages of husk's own binary that start-up touched. Those are clean
// and read-only, so dropping them from this process loses nothing: a page
// it runs again comes back from the page cache. An idle process then
// holds only what it uses.
func TrimMemory() {
	debug.FreeOSMemory()
	var exe syscall.Stat_t
	if syscall.Stat("/proc/self/exe", &exe) != nil {
		return
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		start, end, ok := readOnlyMappingOf(sc.Text(), exe.Ino)
		if ok {
			_, _, _ = unix.Syscall(unix.SYS_MADVISE, start, end-start, unix.MADV_DONTNEED)
		}
	}
}

// readOnlyMappingOf parses a /proc/self/maps line and reports a mapping of
// the file with inode ino that is not writable: only there does
// MADV_DONTNEED drop nothing but a cached copy.
func readOnlyMappingOf(line string, ino uint64) (start, end uintptr, ok bool) {
	f := strings.Fields(line)
	if len(f) < 6 || strings.Contains(f[1], "w") || f[4] != strconv.FormatUint(ino, 10) {
		return 0, 0, false
	}
	var s, e uint64
	if _, err := fmt.Sscanf(f[0], "%x-%x", &s, &e); err != nil {
		return 0, 0, false
	}
	return uintptr(s), uintptr(e), true
}

// TrimWhileIdle trims now and again: start-up pages go after a second,
// those of a container's first moments (its first connections, the
// garbage collector's first rounds) after ten, stray ones after a minute.
func TrimWhileIdle() {
	for _, d := range []time.Duration{time.Second, 10 * time.Second, time.Minute} {
		time.AfterFunc(d, TrimMemory)
	}
}
