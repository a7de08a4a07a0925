package cli

import "fmt"

// TagCmd is `husk tag`.
type TagCmd struct {
	Source string `arg:"" help:"Image name or ID."`
	Target string `arg:"" help:"New name, e.g. myimage:v1."`
}

func (c *TagCmd) Run(g *Globals) error {
	s, err := openStore(g)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.Tag(c.Source, c.Target); err != nil {
		return fmt.Errorf("tag %s %s: %w", c.Source, c.Target, err)
	}
	return nil
}
