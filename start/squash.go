package start

import (
	"fmt"
	"os"

	"husk/fuse"
	"husk/sandbox"
	"husk/squash"
	"husk/store"
	"husk/userns"
)

// squashfsRoot is the strategy of a start from a squashfs file (not a
// store's: the file is served through FUSE, under an overlay).
const squashfsRoot fuse.Strategy = "squashfs"

// findFile is the image of a start from a squashfs file (husk run
// FILE.sqsh): read from the file, never cached, never in the store. A
// repeated run --rm of it may start from the prelaunch, which watches the
// file (its identity: device, inode, size and time) and its node copy's
// sign (squash.MetaPath). With a node copy of the file's version, the
// root is the copy under an overlay, as a store image's; without one it
// is the file through FUSE, and this start has the copy made, in the
// background: while that is under way, the start writes no launch down
// (the next run must see the copy once it is there).
func (hl *HostLaunch) findFile(image string, mapping *userns.Mapping) (*store.ResolvedImage, error) {
	img, err := squash.Load(image)
	if err != nil {
		return nil, err
	}
	hl.file, hl.fileMeta = img.File, squash.MetaPath(img)
	p := &store.ResolvedImage{ImageID: img.ID, Strategy: squashfsRoot, Config: img.Config}
	if c := squash.Cached(img); c != nil {
		hl.fileCopy = c
		p.Strategy, p.Lower = c.Strategy, []string{c.Root}
		return p, nil
	}
	if squash.StartUnpack(img, mapping) {
		hl.noReuse = true
	}
	return p, nil
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
