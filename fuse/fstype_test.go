package fuse

import (
	"strings"
	"testing"
)

func TestClassifyMagic(t *testing.T) {
	for _, c := range []struct {
		magic   int64
		name    string
		network bool
	}{
		{0x6969, "nfs", true},
		{0x0BD00BD0, "lustre", true},
		{0x47504653, "gpfs", true},
		{0x19830326, "beegfs", true},
		{0x00C36400, "ceph", true},
		{0xEF53, "ext4", false},
		{0x01021994, "tmpfs", false},
		{0x12345678, "0x12345678", false},
		// f_type is signed on some architectures: the same magic, negative.
		{-0x00ACB2BE, "cifs", true}, // 0xFF534D42
	} {
		fi := classify(c.magic, "")
		if fi.Type != c.name || fi.Network != c.network {
			t.Errorf("classify(%#x) = %+v, want %s network=%v", c.magic, fi, c.name, c.network)
		}
	}
}

// A FUSE mount is "fuse" to statfs; mountinfo's type says which.
func TestClassifySSHFS(t *testing.T) {
	const mi = `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
98 22 0:52 / /home/u rw,nosuid,nodev,relatime shared:50 - fuse.sshfs u@127.0.0.1:/srv/u rw,user_id=1000,group_id=1000
99 22 0:53 / /mnt/o rw,nosuid,nodev,relatime shared:51 - fuse.fuse-overlayfs fuse-overlayfs rw,user_id=1000,group_id=1000
`
	for _, c := range []struct {
		minor   int
		name    string
		network bool
	}{{52, "fuse.sshfs", true}, {53, "fuse.fuse-overlayfs", false}, {54, "fuse", false}} {
		fi := classify(0x65735546, mountType(strings.NewReader(mi), 0, c.minor))
		if fi.Type != c.name || fi.Network != c.network {
			t.Errorf("0:%d: %+v, want %s network=%v", c.minor, fi, c.name, c.network)
		}
	}
}
