package start

import (
	"fmt"
	"os"

	"husk/fuse"
	"husk/sandbox"
	"husk/squash"
	"husk/store"
)

// squashfsRoot is the strategy of a start from a squashfs file (not a
// store's: the file is served through FUSE, under an overlay).
const squashfsRoot fuse.Strategy = "squashfs"

// findFile is the image of a start from a squashfs file (husk run
// FILE.sqsh): read from the file, never cached, never in the store. A
// repeated run --rm of it may start from the prelaunch, which watches the
// file (its identity: device, inode, size and time).
func (hl *HostLaunch) findFile(image string) (*store.ResolvedImage, error) {
	img, err := squash.Load(image)
	if err != nil {
		return nil, err
	}
	hl.file = img.File
	return &store.ResolvedImage{ImageID: img.ID, Strategy: squashfsRoot, Config: img.Config}, nil
}

// fileRoot mounts the file as the root: its upper layer is always on the
// scratch tmpfs (the changes go with the sandbox), or none with
// --read-only.
func (hl *HostLaunch) fileRoot(scratch string, cfg *sandbox.Config) ([]sandbox.Op, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("running %s: finding husk's own binary: %w", hl.file, err)
	}
	ro := cfg.OCI.Root != nil && cfg.OCI.Root.Readonly
	return squash.RootOps(self, hl.file, scratch, ro)
}
