package cli

import (
	"fmt"

	"husk/oci"
)

// BundleCmd is `husk bundle IMAGE DIR`: an OCI bundle for husk oci, runc
// or any OCI runtime.
type BundleCmd struct {
	Image string `arg:"" help:"Image name or ID (pulled when missing)."`
	Dir   string `arg:"" help:"The bundle's directory: new or empty." type:"path"`
}

func (c *BundleCmd) Run(g *Globals) error {
	img, err := findOrPull(g, c.Image)
	if err != nil {
		return err
	}
	if err := oci.WriteBundle(g.Ctx, g.StorageDriver, img.Id, c.Dir); err != nil {
		return err
	}
	fmt.Fprintln(g.Stdout, c.Dir)
	return nil
}
