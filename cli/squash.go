package cli

import (
	"fmt"

	"husk/squash"
	"husk/store"
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

// fileRun checks a run of a squashfs file (husk run FILE.sqsh) before
// anything starts.
func (c *RunCmd) fileRun() error {
	if !squash.IsPath(c.Image) {
		p, err := storedImage(c.Image, c.Pull)
		if err != nil || p == "" {
			return err
		}
		c.Image, c.storeName = p, c.Image
	}
	abs, err := squash.Check(c.Image)
	if err != nil {
		return err
	}
	c.Image = abs
	if c.PublishAll {
		return fmt.Errorf("run %s: -P is not supported for a squashfs file: publish ports with -p", c.Image)
	}
	c.Pull = "never"
	return nil
}

// fileImage is a squashfs file's image as create needs it: its ID and
// config, read from the file.
func fileImage(file string) (*inspectImage, error) {
	img, err := squash.Load(file)
	if err != nil {
		return nil, err
	}
	cfg := img.Config
	return &inspectImage{Id: img.ID, Config: inspectConfig{Env: cfg.Env, Cmd: cfg.Cmd, Entrypoint: cfg.Entrypoint,
		WorkingDir: cfg.WorkingDir, User: cfg.User, Labels: cfg.Labels, StopSignal: cfg.StopSignal}}, nil
}

// storedImage is the squashfs file of image when a squashfs store of
// HUSK_IMAGE_STORES holds it by that name or ID, else "". The stores come
// before the user's own: a job that names them means their images, and
// finding one there is a file read, with no call in husk's namespace.
// --pull always asks for the registry's image instead.
func storedImage(image, pull string) (string, error) {
	if pull == "always" {
		return "", nil
	}
	img, err := store.FindSquash(image)
	if err != nil || img == nil {
		return "", err
	}
	return img.Path(), nil
}
