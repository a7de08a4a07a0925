package cli

import (
	"errors"
	"fmt"

	units "github.com/docker/go-units"
	storage "go.podman.io/storage"

	"husk/store"
	"husk/store/container"
	"husk/userns"
)

// ImagePruneCmd is `husk image prune`.
type ImagePruneCmd struct {
	All   bool `short:"a" help:"Remove every image no container uses, not only dangling ones."`
	Force bool `short:"f" help:"Do not ask for confirmation."`
}

func (c *ImagePruneCmd) Run(g *Globals) error {
	what := "all dangling images"
	if c.All {
		what = "all images without at least one container associated to them"
	}
	// Asked once, on the host: the re-executed child skips it.
	if !c.Force && !userns.Reexecuted() && !confirm(g, "WARNING! This will remove "+what+".\nAre you sure you want to continue? [y/N] ") {
		return nil
	}
	if err := userns.Enter(g.Ctx); err != nil {
		return err
	}
	freed, err := pruneImages(g, c.All)
	if err != nil {
		return err
	}
	fmt.Fprintln(g.Stdout, "Total reclaimed space: "+units.HumanSizeWithPrecision(float64(freed), 3))
	return nil
}

// pruneImages removes the dangling images (with all, every image no
// container uses), in husk's namespace, prints them as Docker does and
// returns the space freed.
func pruneImages(g *Globals, all bool) (int64, error) {
	s, err := store.Open(g.StorageDriver)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	images, err := s.Images()
	if err != nil {
		return 0, fmt.Errorf("image prune: listing the store %s: %w", s.GraphRoot(), err)
	}
	used, err := imagesInUse()
	if err != nil {
		return 0, fmt.Errorf("image prune: %w", err)
	}
	var freed int64
	header := false
	for i := range images {
		img := &images[i]
		if used[img.ID] || (!all && len(img.Names) > 0) {
			continue
		}
		size, err := removeForPrune(s, img)
		if err != nil {
			return freed, fmt.Errorf("image prune: %.12s: %w", img.ID, err)
		}
		if size < 0 {
			continue // a running sandbox holds it
		}
		if !header {
			fmt.Fprintln(g.Stdout, "Deleted Images:")
			header = true
		}
		for _, n := range img.Names {
			fmt.Fprintln(g.Stdout, "untagged: "+n)
		}
		fmt.Fprintln(g.Stdout, "deleted: sha256:"+img.ID)
		freed += size
	}
	if header {
		fmt.Fprintln(g.Stdout)
	}
	return freed, nil
}

// removeForPrune deletes img and returns its size, or -1 when a running
// sandbox holds it (prune passes over it, as Docker's does).
func removeForPrune(s *store.Store, img *storage.Image) (int64, error) {
	size := s.Size(img)
	err := s.Delete(img)
	if errors.Is(err, store.ErrImageRunning) {
		return -1, nil
	}
	return max(size, 0), err
}

// imagesInUse are the IDs of images that containers, running or not,
// were created from.
func imagesInUse() (map[string]bool, error) {
	cs, err := container.OpenDefault()
	if err != nil {
		return nil, err
	}
	all, err := cs.List()
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, ct := range all {
		used[ct.Config.ImageID] = true
	}
	return used, nil
}
