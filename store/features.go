package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"husk/fuse"
)

// containers/storage's overlay driver tries the kernel out when a store is
// first opened, and again on its first layers: it mounts an overlay,
// writes, and unmounts it (the unmount syncs the whole backing filesystem,
// 0.1 s and more on a busy machine), for whether overlay works at all, its
// metacopy and its native diff. It records each answer as a file in the
// store's run directory, <runroot>/overlay/<feature>-true or -false, and
// asks again for every new store (every HUSK_ROOT, every `system reset`).
// The answers depend on the kernel and the backing filesystem, as husk's
// own overlay probe (fuse/probecache.go): they are kept per user under
// those, and a new store's run directory starts with them. Should the
// driver ever name its files otherwise, the copies are ignored and it
// asks the kernel again.

// featuresDir is where this user keeps the answers for the filesystem of
// graphroot: under the overlay probe's key, and the filesystem's device,
// for the mount options of one filesystem may differ from another's of
// the same type. "" when there is no cache directory.
func featuresDir(graphroot string) string {
	dir, err := os.UserCacheDir()
	key := fuse.ProbeKey(graphroot)
	var st unix.Stat_t
	if err != nil || key == "" || unix.Stat(graphroot, &st) != nil {
		return ""
	}
	key = fmt.Sprintf("%s %x", key, st.Dev)
	return filepath.Join(dir, "husk", "overlay-features", strings.NewReplacer("/", "_", " ", "_").Replace(key))
}

// seedFeatures gives a new store's run directory the answers kept for its
// filesystem (native overlay only: with fuse-overlayfs the driver tries
// nothing).
func seedFeatures(strategy fuse.Strategy, graphroot, runroot string) {
	if strategy != fuse.Overlay {
		return
	}
	copyFeatures(featuresDir(graphroot), filepath.Join(runroot, "overlay"))
}

// keepFeatures keeps the answers the driver recorded for this store that
// the user's cache lacks. A failure costs only the next new store its
// probes.
func keepFeatures(strategy fuse.Strategy, graphroot, runroot string) {
	if strategy != fuse.Overlay {
		return
	}
	copyFeatures(filepath.Join(runroot, "overlay"), featuresDir(graphroot))
}

// copyFeatures copies the answer files of from that to lacks.
func copyFeatures(from, to string) {
	if from == "" || to == "" {
		return
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		return
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !(strings.HasSuffix(name, "-true") || strings.HasSuffix(name, "-false")) {
			continue
		}
		if _, err := os.Lstat(filepath.Join(to, name)); err == nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, name))
		if err != nil || len(b) > 64<<10 {
			continue
		}
		if os.MkdirAll(to, 0o700) != nil {
			return
		}
		// Written aside and renamed: a reader never sees half an answer.
		tmp, err := os.CreateTemp(to, ".feature-")
		if err != nil {
			return
		}
		_, err = tmp.Write(b)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), filepath.Join(to, name))
		}
		if err != nil {
			os.Remove(tmp.Name())
		}
	}
}
