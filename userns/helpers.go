package userns

import (
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Capabilities newuidmap and newgidmap need when they are installed with
// file capabilities instead of the setuid bit (Fedora, Arch).
const (
	capSetgid = 6
	capSetuid = 7
)

// fallbackDir is searched after PATH; tests empty it.
var fallbackDir = "/usr/bin/"

// findHelper finds a shadow helper (newuidmap, newgidmap, getsubids) on
// PATH, then in /usr/bin, where distributions put it even when PATH is
// minimal (cron, Slurm, `runuser`). "" when absent.
func findHelper(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs
		}
		return p
	}
	if fallbackDir == "" {
		return ""
	}
	p := fallbackDir + name
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
		return p
	}
	return ""
}

// checkHelper finds newuidmap or newgidmap (name) and checks that it can
// write a map for an unprivileged user: setuid root on a filesystem
// mounted without nosuid, or the file capability (cap_setuid or
// cap_setgid). The error names the fix.
func checkHelper(name string, capBit uint) (string, error) {
	p := findHelper(name)
	if p == "" {
		return "", newError("finding", name, errors.New("not installed"),
			"install the uidmap package (sudo apt-get install uidmap, or dnf install shadow-utils)")
	}
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return p, newError("checking", p, err, "")
	}
	if st.Mode&unix.S_ISUID != 0 && st.Uid == 0 {
		var fs unix.Statfs_t
		if unix.Statfs(p, &fs) == nil && fs.Flags&unix.ST_NOSUID != 0 {
			return p, newError("checking", p, errors.New("its filesystem is mounted nosuid"),
				"ask the admin to install uidmap on a filesystem without nosuid")
		}
		return p, nil
	}
	if hasFileCap(p, capBit) {
		return p, nil
	}
	return p, newError("checking", p, errors.New("neither setuid root nor given a capability"),
		"ask the admin to run: sudo chmod u+s %s (or sudo setcap cap_set%sid+ep %s)", p, map[uint]string{capSetuid: "u", capSetgid: "g"}[capBit], p)
}

// hasFileCap reports whether the file's security.capability xattr grants
// the capability bit in its permitted set (struct vfs_cap_data: a 32-bit
// magic word, then {permitted, inheritable} pairs of 32-bit words).
func hasFileCap(path string, bit uint) bool {
	buf := make([]byte, 24)
	n, err := unix.Getxattr(path, "security.capability", buf)
	if err != nil || n < 12 {
		return false
	}
	word := 4 + 8*(bit/32) // offset of data[bit/32].permitted
	if int(word)+4 > n {
		return false
	}
	return binary.LittleEndian.Uint32(buf[word:])&(1<<(bit%32)) != 0
}
