package cli

import (
	"fmt"

	"husk/squash"
)

// ImageSquashCmd is `husk image squash`: one squashfs file of an image.
type ImageSquashCmd struct {
	Output string `short:"o" help:"Write to FILE (default: the image's name and tag, .sqsh, here)." placeholder:"FILE"`
	Image  string `arg:"" help:"Image name or ID."`
}

func (c *ImageSquashCmd) Run(g *Globals) error {
	out := c.Output
	if out == "" {
		out = squash.DefaultName(c.Image)
	}
	if err := squash.Write(g.Ctx, g.StorageDriver, c.Image, out, g.Stderr); err != nil {
		return err
	}
	fmt.Fprintln(g.Stdout, out)
	return nil
}

// fileRun checks a run of a squashfs file (husk run FILE.sqsh), which is
// always a --rm run: its upper layer is on the sandbox's tmpfs.
func (c *RunCmd) fileRun() error {
	if !squash.IsPath(c.Image) {
		return nil
	}
	if _, err := squash.Check(c.Image); err != nil {
		return err
	}
	switch {
	case c.Detach:
		return fmt.Errorf("run %s: -d is not supported yet for a squashfs file: run it in the foreground", c.Image)
	case c.TTY:
		return fmt.Errorf("run %s: -t is not supported yet for a squashfs file: run it without -t", c.Image)
	case c.PublishAll:
		return fmt.Errorf("run %s: -P is not supported for a squashfs file: publish ports with -p", c.Image)
	}
	c.Rm, c.Pull = true, "never"
	return nil
}
