package store

import (
	"fmt"
	"os"

	"husk/fuse"
	"husk/userns"

	storage "go.podman.io/storage"
	"go.podman.io/storage/types"
)

// Store is husk's image and container store: containers/storage opened
// inside husk's user namespace with the driver the strategy calls for.
type Store struct {
	storage.Store
	Root      string
	Strategy  fuse.Strategy
	Squashing bool // single-uid mapping: files of other owners become ours
}

// Open opens the store. It must run inside husk's user namespace
// (userns.Enter first), where layers get the ownership the mapping allows.
// forced is --storage-driver / HUSK_STORAGE_DRIVER, "" to use the recorded
// or probed strategy.
func Open(forced string) (*Store, error) {
	root, graphroot, runroot, err := Paths()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(graphroot, 0o700); err != nil {
		return nil, fmt.Errorf("creating the store %s: %w", graphroot, annotateDisk(err, graphroot))
	}
	if err := checkMapping(root); err != nil {
		return nil, err
	}
	strategy, err := fuse.Select(graphroot, forced)
	if err != nil {
		return nil, err
	}
	squash := userns.Mode() == userns.ModeSingle
	driver, opts, err := driverOptions(strategy, squash)
	if err != nil {
		return nil, err
	}
	ro, err := imageStoreOption(driver)
	if err != nil {
		return nil, err
	}
	opts = append(opts, ro...)
	seedFeatures(strategy, graphroot, storageRunRoot(root, runroot))
	s, err := storage.GetStore(types.StoreOptions{
		RunRoot:            storageRunRoot(root, runroot),
		GraphRoot:          graphroot,
		GraphDriverName:    driver,
		GraphDriverOptions: opts,
	})
	if err != nil {
		return nil, fmt.Errorf("opening the store %s with the %s driver: %w: %s", graphroot, strategy, err, openFix(strategy, forced))
	}
	return &Store{Store: s, Root: root, Strategy: strategy, Squashing: squash}, nil
}

// driverOptions maps a strategy onto a containers/storage driver.
//
// With the single mapping `0 uid 1`, chown to any other id fails with EINVAL;
// ignore_chown_errors keeps such files, owned by us (uid 0 inside), with
// their modes. force_mask is not used: it would move the real modes into an
// xattr that only fuse-overlayfs reads, and native overlay refuses it for
// writable layers.
func driverOptions(s fuse.Strategy, squash bool) (string, []string, error) {
	var opts []string
	switch s {
	case fuse.Overlay:
		if squash {
			opts = append(opts, "overlay.ignore_chown_errors=true")
		}
		return "overlay", opts, nil
	case fuse.FuseOverlayfs:
		prog, err := fuse.FuseOverlayfsPath()
		if err != nil {
			return "", nil, err
		}
		if squash {
			opts = append(opts, "overlay.ignore_chown_errors=true")
		}
		return "overlay", append(opts, "overlay.mount_program="+prog), nil
	case fuse.VFS:
		if squash {
			opts = append(opts, "vfs.ignore_chown_errors=true")
		}
		return "vfs", opts, nil
	}
	return "", nil, fmt.Errorf("choosing the storage driver: unknown strategy %q: use overlay, fuse-overlayfs or vfs", s)
}

func openFix(s fuse.Strategy, forced string) string {
	if forced != "" {
		return "try another --storage-driver (overlay, fuse-overlayfs, vfs), or see 'husk info'"
	}
	return "see 'husk info', or run 'husk system reset' to start a new store"
}

// Close releases the store's locks and unmounts nothing that others use.
func (s *Store) Close() {
	_, _ = s.Shutdown(false)
	keepFeatures(s.Strategy, s.GraphRoot(), s.RunRoot())
}
