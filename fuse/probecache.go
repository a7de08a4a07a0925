package fuse

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// The native-overlay probe mounts, writes and unmounts (0.1 s and more on a
// busy machine), and every new store would pay it on its first pull. Its
// answer depends on the kernel and on the store's filesystem type, so a
// success is remembered per user under that key. Only native overlay is
// remembered: fuse-overlayfs also depends on /dev/fuse and a binary, which
// an administrator may change at any time.
func probeCachePath() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "husk", "overlay-probe")
}

func probeKey(dir string) string {
	var uts unix.Utsname
	var st unix.Statfs_t
	if unix.Uname(&uts) != nil || unix.Statfs(dir, &st) != nil {
		return ""
	}
	return fmt.Sprintf("%s %x", unix.ByteSliceToString(uts.Release[:]), st.Type)
}

// overlayKnownGood reports a remembered native-overlay success for dir.
func overlayKnownGood(dir string) bool {
	path, key := probeCachePath(), probeKey(dir)
	if path == "" || key == "" {
		return false
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if line == key {
			return true
		}
	}
	return false
}

// rememberOverlay notes a native-overlay success for dir's key; a failure
// to write only costs the next new store a probe.
func rememberOverlay(dir string) {
	path, key := probeCachePath(), probeKey(dir)
	if path == "" || key == "" || overlayKnownGood(dir) {
		return
	}
	if os.MkdirAll(filepath.Dir(path), 0o700) != nil {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintln(f, key)
}

// ProbeKey is what an answer about overlay on dir's filesystem depends on
// (the kernel, the filesystem's type); "" when it cannot be told.
func ProbeKey(dir string) string { return probeKey(dir) }
