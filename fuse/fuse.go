// Package fuse decides how a root filesystem gets mounted: native overlay in
// the user namespace, else fuse-overlayfs, else vfs (plain copies). The
// probes run inside husk's user namespace; the choice is recorded once per
// store, because layers written by one driver are invisible to another.
package fuse

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Strategy is one way to mount a root filesystem.
type Strategy string

const (
	Overlay       Strategy = "overlay"
	FuseOverlayfs Strategy = "fuse-overlayfs"
	VFS           Strategy = "vfs"
)

// Strategies in the order husk prefers them (fastest first).
var Strategies = []Strategy{Overlay, FuseOverlayfs, VFS}

// Parse checks a strategy name from --storage-driver or HUSK_STORAGE_DRIVER.
func Parse(name string) (Strategy, error) {
	for _, s := range Strategies {
		if name == string(s) {
			return s, nil
		}
	}
	return "", &Error{Op: "choosing the storage driver", Path: fmt.Sprintf("%q", name),
		Err: errors.New("unknown"), Fix: "use one of overlay, fuse-overlayfs, vfs (--storage-driver or HUSK_STORAGE_DRIVER)"}
}

// FuseOverlayfsPath is the fuse-overlayfs binary to hand to
// containers/storage: PATH first, then the usual install places.
func FuseOverlayfsPath() (string, error) {
	if p, err := exec.LookPath("fuse-overlayfs"); err == nil {
		return filepath.Abs(p)
	}
	for _, p := range []string{"/usr/bin/fuse-overlayfs", "/usr/local/bin/fuse-overlayfs"} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", &Error{Op: "finding", Path: "fuse-overlayfs", Err: errors.New("not installed"),
		Fix: "install it (sudo apt-get install fuse-overlayfs), or use --storage-driver=vfs"}
}

// Select returns the strategy for the store at graphroot. forced (from
// --storage-driver or HUSK_STORAGE_DRIVER) wins when set; otherwise the one
// recorded in the store, otherwise a probe, whose result is recorded. It runs
// inside the user namespace, where the probe mounts happen.
//
// A forced strategy that differs from the recorded one is refused while
// the store holds layers: the other driver would not see them.
func Select(graphroot, forced string) (Strategy, error) {
	root := filepath.Dir(graphroot)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", &Error{Op: "creating the store", Path: root, Err: err,
			Fix: "set HUSK_ROOT to a directory you can write"}
	}
	unlock, err := lockDir(root)
	if err != nil {
		return "", err
	}
	defer unlock()
	recorded, err := Recorded(graphroot)
	if err != nil {
		return "", err
	}
	if forced != "" {
		return selectForced(graphroot, forced, recorded)
	}
	if recorded != "" {
		return recorded, nil
	}
	s := probeFirst(root)
	return s, record(graphroot, s)
}

// selectForced validates forced against the store's record and records it
// when the store has nothing to lose.
func selectForced(graphroot, forced string, recorded Strategy) (Strategy, error) {
	s, err := Parse(forced)
	if err != nil {
		return "", err
	}
	if s == recorded {
		return s, nil
	}
	if recorded != "" && HasLayers(graphroot) {
		return "", &Error{Op: "using storage driver " + string(s) + " with the store", Path: filepath.Dir(graphroot),
			Err: fmt.Errorf("its layers were written with %s", recorded),
			Fix: fmt.Sprintf("drop --storage-driver/HUSK_STORAGE_DRIVER (or use %s), run husk system reset, or set HUSK_ROOT to another directory", recorded)}
	}
	return s, record(graphroot, s)
}

// trimLine keeps the last line of a helper's complaint.
func trimLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}
