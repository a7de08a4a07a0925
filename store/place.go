package store

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"husk/fuse"
	"husk/sandbox/abi"
)

// Placement is where husk's root is and why there.
type Placement struct {
	Root string
	// How: "HUSK_ROOT" (the user's choice), "default" (the data
	// directory), or "node-local" (the data directory is on a network
	// filesystem, so the store moved to the node's own storage).
	How string
	// Reason says why, for a node-local placement: the data directory and
	// its filesystem.
	Reason string
}

// placedMarker, in a node-local root, says the one line about the move
// was said: once per placement, not on every command.
const placedMarker = "placed"

// fsOf is fuse.FSOf; the unit tests play a network filesystem with it.
var fsOf = fuse.FSOf

var placed struct {
	sync.Mutex
	key string
	p   Placement
}

// Place decides where husk's root is: HUSK_ROOT when set; else
// $XDG_DATA_HOME/husk or ~/.local/share/husk, unless that is on a network
// or cluster filesystem (NFS, Lustre, GPFS, BeeGFS, CephFS, sshfs ...),
// where overlay upper layers, device nodes, subordinate uids and atomic
// renames do not work and every file operation is a round trip: then a
// private directory on the node's own storage (localRoot). It gives the
// same answer on the host and in husk's user namespace.
func Place() (Placement, error) {
	key := os.Getenv(abi.EnvRoot) + "\x00" + os.Getenv("XDG_DATA_HOME") + "\x00" + os.Getenv("HOME") + "\x00" + os.Getenv("TMPDIR")
	placed.Lock()
	defer placed.Unlock()
	if placed.key == key && placed.p.Root != "" {
		return placed.p, nil
	}
	p, err := place()
	if err == nil {
		placed.key, placed.p = key, p
	}
	return p, err
}

func place() (Placement, error) {
	if r := os.Getenv(abi.EnvRoot); r != "" {
		abs, err := filepath.Abs(r)
		return Placement{Root: abs, How: "HUSK_ROOT"}, err
	}
	def, err := dataDir()
	if err != nil {
		return Placement{}, err
	}
	fi, err := fsOf(def)
	if err != nil || !fi.Network {
		return Placement{Root: def, How: "default"}, nil
	}
	p := Placement{How: "node-local",
		Reason: fmt.Sprintf("%s is on %s, a network filesystem", def, fi.Type)}
	if p.Root, err = localRoot(); err != nil {
		return Placement{}, fmt.Errorf("placing the store: %s, and %w: set HUSK_ROOT to a directory on this node's own disk", p.Reason, err)
	}
	sayOnce(p)
	pointLaunches(def, p.Root)
	return p, nil
}

// pointLaunches makes the data directory's startcache a file that names
// the placed root's: prelaunch.c looks under the data directory (HUSK_ROOT
// unset) and follows it, so that the root is decided here only. Not a
// symlink: sshfs here refuses to read one (EPERM), and other network
// filesystems may too. A small file of the user's, rewritten in place (no
// rename), is all husk writes on the network filesystem. Best effort:
// without it a repeated run starts the usual, slower way.
func pointLaunches(def, root string) {
	ptr, target := filepath.Join(def, abi.LaunchDir), filepath.Join(root, abi.LaunchDir)
	if b, err := os.ReadFile(ptr); err == nil && string(b) == target+"\n" {
		return
	}
	if os.MkdirAll(def, 0o700) != nil {
		return
	}
	// The launches of a store that was here before it was placed, or
	// anything else not a file of ours.
	if fi, err := os.Lstat(ptr); err == nil && !fi.Mode().IsRegular() {
		_ = os.RemoveAll(ptr)
	}
	_ = os.WriteFile(ptr, []byte(target+"\n"), 0o600)
}

func dataDir() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "husk"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding the store: neither HUSK_ROOT nor HOME is set: set HUSK_ROOT to a directory of yours")
	}
	return filepath.Join(home, ".local", "share", "husk"), nil
}

// localRoot is husk-store-<uid> in the first of $TMPDIR, /tmp and /dev/shm
// that is a usable local directory, made private to the user.
func localRoot() (string, error) {
	var bases []string
	if t := os.Getenv("TMPDIR"); filepath.IsAbs(t) {
		bases = append(bases, t)
	}
	for _, b := range append(bases, "/tmp", "/dev/shm") {
		if !usableDir(b) {
			continue
		}
		if fi, err := fsOf(b); err != nil || fi.Network {
			continue
		}
		dir := filepath.Join(b, fmt.Sprintf("husk-store-%d", HostUID()))
		return dir, privateDir(dir, "the node-local store", "set HUSK_ROOT to a directory of yours")
	}
	return "", fmt.Errorf("none of $TMPDIR, /tmp and /dev/shm is a local directory you can write")
}

// sayOnce tells the user where the store went, the first time a command
// uses that place: whoever makes the marker says it.
func sayOnce(p Placement) {
	f, err := os.OpenFile(filepath.Join(p.Root, placedMarker), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return
	}
	fmt.Fprintln(f, p.Reason)
	f.Close()
	fmt.Fprintf(os.Stderr, "husk: keeping the store on this node's own storage, in %s: %s (set HUSK_ROOT to choose)\n", p.Root, p.Reason)
}
