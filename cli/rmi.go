package cli

import (
	"fmt"
	"slices"

	"husk/store"
	"husk/store/container"
)

// RmiCmd is `husk rmi`.
type RmiCmd struct {
	Force  bool     `short:"f" help:"Remove an image with several names by its ID."`
	Images []string `arg:"" name:"image" help:"Image names or (prefixes of) IDs."`
}

func (c *RmiCmd) Run(g *Globals) error {
	s, err := openStore(g)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, q := range c.Images {
		if err := c.remove(g, s, q); err != nil {
			return fmt.Errorf("rmi %s: %w", q, err)
		}
	}
	return nil
}

// remove follows Docker: by one of several names, only that name goes;
// by ID (or the last name), the image goes with all its names.
func (c *RmiCmd) remove(g *Globals, s *store.Store, q string) error {
	img, err := s.Lookup(q)
	if err != nil {
		if sq, _ := store.FindSquash(q); sq != nil {
			return fmt.Errorf("image %.12s is in the read-only squashfs store %s (%s): it cannot be removed here; run without it by unsetting %s", sq.ID, sq.Store, store.EnvImageStores, store.EnvImageStores)
		}
		return err
	}
	if img.ReadOnly {
		return fmt.Errorf("image %.12s is in a read-only image store (%s): it cannot be removed here; run without it by unsetting %s", img.ID, store.EnvImageStores, store.EnvImageStores)
	}
	byName := ""
	for _, n := range []string{q, store.NormalizeName(q)} {
		if slices.Contains(img.Names, n) {
			byName = n
			break
		}
	}
	if byName != "" && len(img.Names) > 1 {
		if err := s.Untag(img, byName); err != nil {
			return err
		}
		fmt.Fprintln(g.Stdout, "Untagged: "+byName)
		return nil
	}
	if byName == "" && len(img.Names) > 1 && !c.Force {
		return fmt.Errorf("image %.12s has %d names (%s): remove them by name, or pass -f", img.ID, len(img.Names), img.Names[0])
	}
	if err := notUsedByContainers(img.ID); err != nil {
		return err
	}
	if err := s.Delete(img); err != nil {
		return err
	}
	for _, n := range img.Names {
		fmt.Fprintln(g.Stdout, "Untagged: "+n)
	}
	fmt.Fprintln(g.Stdout, "Deleted: sha256:"+img.ID)
	return nil
}

// notUsedByContainers refuses to remove an image that a container, even a
// stopped one, was created from: its upper layer or copy needs it.
func notUsedByContainers(imageID string) error {
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	all, err := cs.List()
	if err != nil {
		return err
	}
	for _, ct := range all {
		if ct.Config.ImageID == imageID && ct.Live() {
			return fmt.Errorf("image %.12s is used by running container %s (%.12s): stop it first (husk stop %s; this cannot be forced)", imageID, ct.Name, ct.ID, ct.Name)
		}
		if ct.Config.ImageID == imageID {
			return fmt.Errorf("image %.12s is used by container %s (%.12s): remove the container first (husk rm -f %s)", imageID, ct.Name, ct.ID, ct.Name)
		}
	}
	return nil
}
