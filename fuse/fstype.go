package fuse

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Filesystem magic numbers (statfs f_type) husk names in `husk info`.
// The network and cluster filesystems among them cannot hold overlay
// upper directories (no d_type, no trusted or user xattrs, or no
// whiteouts), and their locks and renames are slow or unsafe for a store.
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
	0x65735546: {"fuse", false},
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
}

// FSInfo is the filesystem under the store.
type FSInfo struct {
	Type    string // "ext4", "nfs" ... or "0x1234" when unknown
	Network bool   // a network or cluster filesystem
}

// StoreFS returns the type of the filesystem that holds dir (or its
// nearest existing parent), and an error with the fix when it is a network
// filesystem, where overlay upper directories do not work.
func StoreFS(dir string) (FSInfo, error) {
	base := existingParent(dir)
	var st unix.Statfs_t
	if err := unix.Statfs(base, &st); err != nil {
		return FSInfo{}, &Error{Op: "statfs", Path: base, Err: err}
	}
	fi := FSInfo{Type: fmt.Sprintf("0x%x", uint32(st.Type))}
	if n, ok := fsNames[int64(uint32(st.Type))]; ok {
		fi.Type, fi.Network = n.name, n.network
	}
	if !fi.Network {
		return fi, nil
	}
	return fi, &Error{Op: "placing the store on", Path: base,
		Err: fmt.Errorf("a %s filesystem, where overlay upper directories do not work", fi.Type),
		Fix: "set HUSK_ROOT to a local disk, such as $TMPDIR/husk (export HUSK_ROOT=${TMPDIR:-/tmp}/husk-$USER)"}
}
