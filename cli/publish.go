package cli

import (
	"fmt"
)

// ImagePublishCmd is `husk image publish`.
type ImagePublishCmd struct {
	Image string `arg:"" help:"Image name or ID."`
	Store string `arg:"" help:"The read-only store to fill (others list it in HUSK_IMAGE_STORES)."`
}

func (c *ImagePublishCmd) Run(g *Globals) error {
	s, err := openStore(g)
	if err != nil {
		return err
	}
	defer s.Close()
	img, err := s.Lookup(c.Image)
	if err != nil {
		return fmt.Errorf("image publish %s: %w", c.Image, err)
	}
	if err := s.Publish(img, c.Store); err != nil {
		return fmt.Errorf("image publish %s: %w", c.Image, err)
	}
	fmt.Fprintf(g.Stdout, "Published: sha256:%s to %s\n", img.ID, c.Store)
	return nil
}
