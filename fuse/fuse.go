// Package fuse decides how a root filesystem gets mounted: native overlay in
// the user namespace, else fuse-overlayfs, else vfs (plain copies).
package fuse

// Strategy is one way to mount a root filesystem.
type Strategy string

const (
	Overlay       Strategy = "overlay"
	FuseOverlayfs Strategy = "fuse-overlayfs"
	VFS           Strategy = "vfs"
)

// Select returns the strategy for the store at graphroot. forced (from
// --storage-driver or HUSK_STORAGE_DRIVER) wins when set; otherwise the one
// recorded in the store, otherwise a probe, whose result is recorded. It runs
// inside the user namespace, where the probe mounts happen.
// STUB: forced, else vfs.
func Select(graphroot, forced string) (Strategy, error) {
	if forced != "" {
		return Strategy(forced), nil
	}
	return VFS, nil
}

// FuseOverlayfsPath is the fuse-overlayfs binary to hand to containers/storage.
// STUB.
func FuseOverlayfsPath() (string, error) { return "/usr/bin/fuse-overlayfs", nil }
