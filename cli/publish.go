package cli

import (
	"fmt"

	"husk/fuse"
	"husk/squash"
	"husk/store"
)

// ImagePublishCmd is `husk image publish`.
type ImagePublishCmd struct {
	Format string `enum:",store,squashfs" default:"" help:"The store's form: squashfs (one file per image, for a network filesystem; the default there) or store (containers/storage's, the default elsewhere)." placeholder:"store|squashfs"`
	Image  string `arg:"" help:"Image name or ID."`
	Store  string `arg:"" help:"The read-only store to fill (others list it in HUSK_IMAGE_STORES)."`
}

func (c *ImagePublishCmd) Run(g *Globals) error {
	format, err := c.format()
	if err != nil {
		return err
	}
	s, err := openStore(g)
	if err != nil {
		return err
	}
	img, err := s.Lookup(c.Image)
	if err != nil {
		s.Close()
		return fmt.Errorf("image publish %s: %w", c.Image, err)
	}
	if format == "squashfs" {
		// The squash opens the store again, by the image's ID.
		s.Close()
		err = store.PublishSquash(c.Store, img.ID, img.Names, img.Created, func(out string) error {
			return squash.Write(g.Ctx, g.StorageDriver, img.ID, out, g.Stderr)
		})
	} else {
		err = s.Publish(img, c.Store)
		s.Close()
	}
	if err != nil {
		return fmt.Errorf("image publish %s: %w", c.Image, err)
	}
	fmt.Fprintf(g.Stdout, "Published: sha256:%s to %s\n", img.ID, c.Store)
	return nil
}

// format is --format, or the one the store's place calls for: squashfs
// on a network filesystem, where containers/storage's store cannot live
// (it sets a symlink's times, needs xattrs and other owners), and for a
// store that is one already.
func (c *ImagePublishCmd) format() (string, error) {
	isSquash := store.IsSquashStore(c.Store)
	switch {
	case c.Format == "store" && isSquash:
		return "", fmt.Errorf("image publish %s: %s is a squashfs store: publish there with --format squashfs, or choose a new path", c.Image, c.Store)
	case c.Format == "squashfs" || isSquash:
		return "squashfs", nil
	}
	fi, err := fuse.FSOf(c.Store)
	switch {
	case err == nil && fi.Network && c.Format == "store":
		return "", fmt.Errorf("image publish %s: %s is on %s, a network filesystem, where containers/storage's store cannot live (it sets a symbolic link's times, needs xattrs and other owners): publish with --format squashfs", c.Image, c.Store, fi.Type)
	case err == nil && fi.Network:
		return "squashfs", nil
	}
	return "store", nil
}
