package sandbox

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Kind is one sort of setup operation. The init applies a list of Ops in
// one loop (bubblewrap's SetupOp): a profile is then data that a unit test
// can compare, with no namespace needed.
type Kind string

const (
	KindMount    Kind = "mount"    // mount FSType at Target with Flags and Data
	KindBind     Kind = "bind"     // recursive bind of a host path (Source) on Target; Flags may add MS_RDONLY
	KindBindDev  Kind = "bind-dev" // bind a host device node on an empty file at Target
	KindMkdir    Kind = "mkdir"    // make a directory inside the root
	KindSymlink  Kind = "symlink"  // Target -> Source
	KindMask     Kind = "mask"     // hide Target: /dev/null on a file, an empty read-only tmpfs on a directory
	KindReadonly Kind = "readonly" // bind Target on itself read-only
	KindFile     Kind = "file"     // bind a generated file (Source, in the scratch dir) on Target
	// KindFuseOverlay runs fuse-overlayfs (Source) with options Data on
	// Target; its daemon lives in the sandbox's pid namespace and dies with it.
	KindFuseOverlay Kind = "fuse-overlayfs"
)

// Op is one step in building the sandbox's root. Target is a path inside
// the sandbox; it is resolved under the root without following symlinks
// out of it.
type Op struct {
	Kind   Kind    `json:"kind"`
	Source string  `json:"source,omitempty"`
	Target string  `json:"target"`
	FSType string  `json:"fstype,omitempty"`
	Flags  uintptr `json:"flags,omitempty"`
	Data   string  `json:"data,omitempty"`
	// Optional: skip the op quietly when the target (or source) is absent,
	// as Docker does for masked paths a kernel lacks.
	Optional bool `json:"optional,omitempty"`
}

const (
	nsd = unix.MS_NOSUID | unix.MS_NODEV
	nse = unix.MS_NOSUID | unix.MS_NOEXEC
)

// devices bound from the host: a user namespace may not mknod.
var devices = []string{"null", "zero", "full", "random", "urandom", "tty"}

// standardOps are the kernel filesystems and the minimal /dev of every
// sandbox, in Docker's shape (moby oci/defaults.go).
func standardOps(hostSys bool, shmSize int64) []Op {
	shm := "mode=1777,size=65536k"
	if shmSize > 0 {
		shm = fmt.Sprintf("mode=1777,size=%d", shmSize)
	}
	ops := []Op{
		{Kind: KindMount, FSType: "proc", Source: "proc", Target: "/proc", Flags: nsd | unix.MS_NOEXEC},
		{Kind: KindMount, FSType: "tmpfs", Source: "tmpfs", Target: "/dev", Flags: unix.MS_NOSUID | unix.MS_STRICTATIME, Data: "mode=755,size=65536k"},
	}
	for _, d := range devices {
		ops = append(ops, Op{Kind: KindBindDev, Source: "/dev/" + d, Target: "/dev/" + d})
	}
	ops = append(ops,
		Op{Kind: KindMount, FSType: "devpts", Source: "devpts", Target: "/dev/pts", Flags: nse, Data: "newinstance,ptmxmode=0666,mode=0620"},
		Op{Kind: KindSymlink, Source: "pts/ptmx", Target: "/dev/ptmx"},
		Op{Kind: KindSymlink, Source: "/proc/self/fd", Target: "/dev/fd"},
		Op{Kind: KindSymlink, Source: "/proc/self/fd/0", Target: "/dev/stdin"},
		Op{Kind: KindSymlink, Source: "/proc/self/fd/1", Target: "/dev/stdout"},
		Op{Kind: KindSymlink, Source: "/proc/self/fd/2", Target: "/dev/stderr"},
		Op{Kind: KindMount, FSType: "tmpfs", Source: "shm", Target: "/dev/shm", Flags: nsd | unix.MS_NOEXEC, Data: shm},
		Op{Kind: KindMount, FSType: "mqueue", Source: "mqueue", Target: "/dev/mqueue", Flags: nsd | unix.MS_NOEXEC},
	)
	// A new sysfs needs a network namespace of the sandbox's own user
	// namespace; with the host's network the host's /sys is bound instead.
	if hostSys {
		ops = append(ops, Op{Kind: KindBind, Source: "/sys", Target: "/sys", Flags: unix.MS_RDONLY})
	} else {
		ops = append(ops, Op{Kind: KindMount, FSType: "sysfs", Source: "sysfs", Target: "/sys", Flags: nsd | unix.MS_NOEXEC | unix.MS_RDONLY})
	}
	return ops
}

// protectOps hide and freeze what Docker hides and freezes under /proc and
// /sys. They come after every other mount, so nothing is mounted over them.
func protectOps(masked, readonly []string) []Op {
	var ops []Op
	for _, p := range masked {
		ops = append(ops, Op{Kind: KindMask, Target: p, Optional: true})
	}
	for _, p := range readonly {
		ops = append(ops, Op{Kind: KindReadonly, Target: p, Optional: true})
	}
	return ops
}

// fileOps bind the generated files; the init writes their contents into
// its private scratch tmpfs first.
func fileOps(scratch string, files []File) []Op {
	var ops []Op
	for i, f := range files {
		ops = append(ops, Op{Kind: KindFile, Source: scratchFile(scratch, i), Target: f.Path})
	}
	return ops
}

// Ops is the whole list the init applies after the root exists, in order.
func (s *Spec) Ops(scratch string) []Op {
	ops := standardOps(s.HostSys, s.ShmSize)
	ops = append(ops, fileOps(scratch, s.Files)...)
	ops = append(ops, s.Mounts...)
	return append(ops, protectOps(s.MaskedPaths, s.ReadonlyPaths)...)
}
