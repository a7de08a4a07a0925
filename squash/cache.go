package squash

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"husk/fuse"
	"husk/reexec"
	"husk/store"
	"husk/userns"
)

// The node copy. A squashfs file that has run on this node is unpacked
// once, in the background, into husk's node-local root (the store's place:
// off any network filesystem), and later starts run from that copy with
// the kernel's overlay (else fuse-overlayfs), as a store image runs: the
// shared filesystem is read once per node, in one sequential pass, and a
// start needs no FUSE server of its own. The first run of a file is not
// slowed: it runs through FUSE and starts the unpack, detached
// (CallUnpack), which it does not wait for.
//
// <root>/squashfs/<hash of the file's path>/ holds one file's copies:
//
//	.lock             held (flock) by the one unpack of this path at a time
//	ID/root           the copy of the file whose identity is ID (Image.ID:
//	                  path, size, modification time), complete
//	ID/meta.json      how it mounts; written last, the copy's sign
//	.tmp-ID-PID       an unpack under way, renamed to ID when complete
//	.nocopy-ID        why ID has no copy (no room, a device node, ...):
//	                  no unpack is tried again for an hour
//
// An unpack killed at any moment leaves only a .tmp- directory, which no
// run reads and the next unpack of the path removes (it holds the lock,
// so no other is under way). The unpack of a new version of the file
// removes the older copies no sandbox holds (<root>/inuse/squash-ID,
// which a sandbox of the copy holds shared, as it does a store image's).

// CallUnpack unpacks a squashfs file into its node copy, in husk's user
// namespace: `husk squashfs-unpack FILE ID`, with the path's lock on fd 3.
const CallUnpack = "squashfs-unpack"

// EnvUnpack turns node copies off when "false" (or 0, no, off).
const EnvUnpack = "HUSK_SQUASH_UNPACK"

func init() { reexec.Register(CallUnpack, unpackMain) }

// retryAfter: how long a .nocopy- marker stops new unpacks of one version.
const retryAfter = time.Hour

// Copy is a squashfs file's node copy.
type Copy struct {
	Root     string        // the unpacked tree, the overlay's lower directory
	Strategy fuse.Strategy // fuse.Overlay or fuse.FuseOverlayfs
	InUse    string        // the lock file a sandbox of the copy holds shared
}

type copyMeta struct {
	Strategy fuse.Strategy `json:"strategy"`
}

// CopiesOff says whether the user turned node copies off.
func CopiesOff() bool {
	switch strings.ToLower(os.Getenv(EnvUnpack)) {
	case "false", "0", "no", "off":
		return true
	}
	return false
}

// Copies is what `husk info` says of node copies: where they go, whether
// runs make them (and why not), and how many are complete.
type Copies struct {
	Dir     string `json:"dir"`
	Enabled bool   `json:"enabled"`
	Off     string `json:"off,omitempty"` // why runs make none
	Count   int    `json:"count"`
}

// CopiesReport looks at the node copies on this node, as StartUnpack
// decides whether to make one.
func CopiesReport() (Copies, error) {
	root, _, _, err := store.Paths()
	if err != nil {
		return Copies{}, err
	}
	c := Copies{Dir: filepath.Join(root, "squashfs")}
	done, _ := filepath.Glob(filepath.Join(c.Dir, "*", "*", "meta.json"))
	c.Count = len(done)
	c.Off, err = noCopies(c.Dir)
	c.Enabled = err == nil && c.Off == ""
	return c, err
}

// noCopies says why runs make no node copies in dir, "" when they do.
func noCopies(dir string) (string, error) {
	if CopiesOff() {
		return EnvUnpack + "=" + os.Getenv(EnvUnpack), nil
	}
	// A root on a network filesystem (a HUSK_ROOT there) is no node's:
	// a copy there would be the metadata storm the copy saves.
	fi, err := fuse.FSOf(dir)
	if err != nil {
		return "", err
	}
	if fi.Network {
		return "husk's root is on a network filesystem (" + fi.Type + "), not this node's", nil
	}
	return "", nil
}

// copiesDir is where file's copies go.
func copiesDir(file string) (string, error) {
	root, _, _, err := store.Paths()
	if err != nil {
		return "", err
	}
	h := sha256.Sum256([]byte(file))
	return filepath.Join(root, "squashfs", hex.EncodeToString(h[:8])), nil
}

// MetaPath is the file whose presence says img has a complete node copy
// (what a prelaunch's launch watches), "" when there is no place for one.
func MetaPath(img *Image) string {
	dir, err := copiesDir(img.File)
	if err != nil {
		return ""
	}
	return filepath.Join(dir, img.ID, "meta.json")
}

// Cached is img's complete node copy, or nil.
func Cached(img *Image) *Copy {
	if CopiesOff() {
		return nil
	}
	meta := MetaPath(img)
	b, err := os.ReadFile(meta)
	if err != nil {
		return nil
	}
	var m copyMeta
	if json.Unmarshal(b, &m) != nil || m.Strategy != fuse.Overlay && m.Strategy != fuse.FuseOverlayfs {
		return nil
	}
	inuse, err := store.InUsePath("squash-" + img.ID)
	if err != nil {
		return nil
	}
	return &Copy{Root: filepath.Join(filepath.Dir(meta), "root"), Strategy: m.Strategy, InUse: inuse}
}

// StartUnpack starts the unpack of img into its node copy, detached and
// not waited for, unless copies are off, one is under way (its lock is
// held), or a recent one failed. It says whether an unpack is under way
// now. mapping is the runs' (nil: real root). Nothing is said: a run's
// output stays its own; a failed unpack leaves its reason in .nocopy-ID.
func StartUnpack(img *Image, mapping *userns.Mapping) bool {
	if CopiesOff() {
		return false
	}
	dir, err := copiesDir(img.File)
	if err != nil {
		return false
	}
	if fi, err := os.Stat(filepath.Join(dir, ".nocopy-"+img.ID)); err == nil && time.Since(fi.ModTime()) < retryAfter {
		return false
	}
	if why, err := noCopies(dir); err != nil || why != "" {
		return false
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return false
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return errors.Is(err, unix.EWOULDBLOCK)
	}
	cmd, err := reexec.Command(CallUnpack, img.File, img.ID)
	if err != nil {
		return false
	}
	// Its own session, no terminal, no output: nothing of the run's.
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, nil
	cmd.ExtraFiles = []*os.File{lock}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if mapping == nil || userns.Inside() {
		err = cmd.Start()
	} else {
		err = userns.Start(mapping, cmd, 0)
	}
	if err != nil {
		return false
	}
	// Reaped if it ends first; the run never waits for it.
	go func() { _ = cmd.Wait() }()
	return true
}
