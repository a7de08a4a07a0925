package fuse

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// Filesystem magic numbers (statfs f_type) husk names in `husk info`.
// The network and cluster filesystems among them cannot hold overlay
// upper directories (no d_type, no trusted or user xattrs, or no
// whiteouts), map only the user's own uid, and their locks and renames are
// slow or atomic only within one client: no place for a writable store.
var fsNames = map[int64]struct {
	name    string
	network bool
}{
	0xEF53:     {"ext4", false},
	0x58465342: {"xfs", false},
	0x9123683E: {"btrfs", false},
	0x01021994: {"tmpfs", false},
	0x2FC12FC1: {"zfs", false},
	0x794C7630: {"overlay", false},
	0x65735546: {"fuse", false}, // mountinfo tells which (fuseTypes)
	0xF2F52010: {"f2fs", false},
	0x6969:     {"nfs", true},
	0x0BD00BD0: {"lustre", true},
	0x47504653: {"gpfs", true},
	0x19830326: {"beegfs", true},
	0xFF534D42: {"cifs", true},
	0xFE534D42: {"smb2", true},
	0x517B:     {"smb", true},
	0x00C36400: {"ceph", true},
	0x013111A8: {"ibrix", true},
	0x5346414F: {"afs", true},
	0x01021997: {"9p", true},
	0x20030528: {"orangefs", true},
	0x01161970: {"gfs2", true},
	0x7461636F: {"ocfs2", true},
	0xAAD7AAEA: {"panfs", true},
}

// fuseNetwork are the FUSE filesystems (mountinfo's "fuse.NAME" or
// "fuseblk.NAME") that reach their files over the network; statfs only
// says "fuse" for all of them.
var fuseNetwork = map[string]bool{
	"sshfs": true, "glusterfs": true, "ceph-fuse": true, "s3fs": true, "gcsfuse": true,
	"rclone": true, "cvmfs2": true, "davfs": true,
	"juicefs": true, "objectivefs": true, "goofys": true, "mountpoint-s3": true,
}

// FSInfo is the filesystem under the store.
type FSInfo struct {
	Type    string // "ext4", "nfs", "fuse.sshfs" ... or "0x1234" when unknown
	Network bool   // a network or cluster filesystem
}

// classify names a filesystem from its statfs magic and, for FUSE, its
// mountinfo type (empty when not known).
func classify(magic int64, mountType string) FSInfo {
	fi := FSInfo{Type: fmt.Sprintf("0x%x", uint32(magic))}
	if n, ok := fsNames[int64(uint32(magic))]; ok {
		fi.Type, fi.Network = n.name, n.network
	}
	if fi.Type == "fuse" && mountType != "" {
		fi.Type = mountType
		_, sub, _ := strings.Cut(mountType, ".")
		fi.Network = fuseNetwork[sub]
	}
	return fi
}

// mountType is the fstype mountinfo gives the mount with device
// major:minor, "" when none has it.
func mountType(r io.Reader, major, minor int) string {
	mounts, err := mountinfo.GetMountsFromReader(r, func(m *mountinfo.Info) (bool, bool) {
		return m.Major != major || m.Minor != minor, false
	})
	if err != nil || len(mounts) == 0 {
		return ""
	}
	return mounts[len(mounts)-1].FSType
}

// FSOf returns the type of the filesystem that holds dir (or its nearest
// existing parent).
func FSOf(dir string) (FSInfo, error) {
	base := existingParent(dir)
	var st unix.Statfs_t
	if err := unix.Statfs(base, &st); err != nil {
		return FSInfo{}, &Error{Op: "statfs", Path: base, Err: err}
	}
	fi := classify(int64(st.Type), "")
	if fi.Type != "fuse" {
		return fi, nil
	}
	var s unix.Stat_t
	if unix.Stat(base, &s) != nil {
		return fi, nil
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return fi, nil
	}
	defer f.Close()
	return classify(int64(st.Type), mountType(f, int(unix.Major(s.Dev)), int(unix.Minor(s.Dev)))), nil
}

// StoreFS is FSOf with an error with the fix when dir is on a network
// filesystem, where overlay upper directories do not work.
func StoreFS(dir string) (FSInfo, error) {
	fi, err := FSOf(dir)
	if err != nil || !fi.Network {
		return fi, err
	}
	return fi, &Error{Op: "placing the store on", Path: existingParent(dir),
		Err: fmt.Errorf("a %s filesystem, where overlay upper directories do not work", fi.Type),
		Fix: "unset HUSK_ROOT, or set it to a local disk, such as $TMPDIR/husk (export HUSK_ROOT=${TMPDIR:-/tmp}/husk-$USER)"}
}
