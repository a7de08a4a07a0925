// Package store keeps images and containers with containers/storage.
package store

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Paths returns husk's root (Place: HUSK_ROOT, else $XDG_DATA_HOME/husk or
// ~/.local/share/husk unless that is on a network filesystem), the
// containers/storage graphroot under it, and the run root. It gives the same answer on the host and inside husk's user
// namespace, where the user's uid appears as 0.
func Paths() (root, graphroot, runroot string, err error) {
	root, err = rootDir()
	if err != nil {
		return "", "", "", err
	}
	runroot, err = RunDir()
	if err != nil {
		return "", "", "", err
	}
	return root, filepath.Join(root, "storage"), runroot, nil
}

// storageRunRoot is containers/storage's run root for the store at root:
// its own under the user's run directory, so that two stores of one user
// (two HUSK_ROOTs) never share mount state, nor does a reset of one remove
// the other's.
func storageRunRoot(root, runroot string) string {
	sum := sha256.Sum256([]byte(root))
	return filepath.Join(runroot, "storage-"+hex.EncodeToString(sum[:4]))
}

func rootDir() (string, error) {
	p, err := Place()
	return p.Root, err
}

// RunDir is $XDG_RUNTIME_DIR/husk when that directory is usable, else
// /tmp/husk-<uid>. The /tmp fallback is shared ground (su, sudo -u, Slurm
// have no XDG_RUNTIME_DIR), so it must be ours and private: anyone could
// have made it first to catch our lock files and sockets.
func RunDir() (string, error) {
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" && usableDir(x) {
		return filepath.Join(x, "husk"), nil
	}
	dir := fmt.Sprintf("/tmp/husk-%d", HostUID())
	return dir, privateDir(dir, "the run directory", "set XDG_RUNTIME_DIR to a private directory")
}

// privateDir makes dir (mode 0700) unless it exists, and checks that it is
// a directory of the user's that no one else can enter: on shared ground
// (/tmp) anyone could have made it first, to catch what husk keeps there.
func privateDir(dir, what, fix string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
		return fmt.Errorf("creating %s %s: %w: %s", what, dir, err, fix)
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(dir, &st); err != nil {
		return fmt.Errorf("checking %s %s: %w", what, dir, err)
	}
	// Inside the namespace our own uid shows as the current uid too.
	if int(st.Uid) != os.Getuid() || st.Mode&syscall.S_IFMT != syscall.S_IFDIR || st.Mode&0o077 != 0 {
		return fmt.Errorf("using %s %s: it is not a private directory owned by uid %d: remove it, or %s", what, dir, HostUID(), fix)
	}
	return nil
}

func usableDir(d string) bool {
	fi, err := os.Stat(d)
	return err == nil && fi.IsDir() && syscall.Access(d, 0o2|0o1) == nil
}

// HostUID is the user's uid on the host: the one that uid 0 maps to inside
// husk's namespace, or the real uid outside it.
func HostUID() int {
	uid := os.Getuid()
	f, err := os.Open("/proc/self/uid_map")
	if err != nil {
		return uid
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fs := strings.Fields(s.Text())
		if len(fs) != 3 || fs[0] != strconv.Itoa(uid) {
			continue
		}
		if fs[1] == fs[0] && fs[2] == "4294967295" {
			return uid // the initial namespace
		}
		if h, err := strconv.Atoi(fs[1]); err == nil {
			return h
		}
	}
	return uid
}
