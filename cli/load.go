package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"husk/pull"
	"husk/store"
	"husk/transfer"
)

// LoadCmd is `husk load`.
type LoadCmd struct {
	Input string `short:"i" help:"Read FILE (docker-archive or oci-archive, gzip or zstd compressed or not; or an OCI layout directory) instead of stdin." placeholder:"FILE"`
	Quiet bool   `short:"q" help:"Print no notices, only what was loaded."`
}

func (c *LoadCmd) Run(g *Globals) error {
	what := c.Input
	if what == "" {
		what = "from stdin"
		if isTerminal(os.Stdin) {
			return fmt.Errorf("load: stdin is a terminal: pass -i FILE, or redirect an archive in")
		}
	}
	s, err := openStore(g)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := c.load(g, s); err != nil {
		return loadError(what, c.settled(g.Ctx, err))
	}
	return nil
}

// load stores each image of the archive and names it.
func (c *LoadCmd) load(g *Globals, s *store.Store) error {
	a, err := transfer.Open(g.Ctx, s, c.Input, os.Stdin)
	if err != nil {
		return err
	}
	defer a.Close()
	for _, n := range a.Images {
		if err := pull.StoreImage(g.Ctx, s, n.Image, n.Names, c.Quiet, g.Stderr); err != nil {
			return err
		}
		cfg, err := n.Image.ConfigName()
		if err != nil {
			return err
		}
		for _, name := range n.Names {
			fmt.Fprintln(g.Stdout, "Loaded image: "+name)
		}
		if len(n.Names) == 0 {
			fmt.Fprintln(g.Stdout, "Loaded image ID: "+cfg.String())
		}
	}
	return nil
}

// stdinGrace is how long a failed read of stdin waits for a Ctrl-C that
// came with the writer's end.
const stdinGrace = 200 * time.Millisecond

// settled is err, or context.Canceled when a Ctrl-C came with it: on
// `husk save | husk load` the same Ctrl-C ends the writer, and its end of
// the pipe can reach this process a moment before its own signal does.
// An archive read from stdin that fails gives the signal that moment.
func (c *LoadCmd) settled(ctx context.Context, err error) error {
	if c.Input != "" || errors.Is(err, context.Canceled) {
		return err
	}
	select {
	case <-ctx.Done():
		return fmt.Errorf("%w (%v)", context.Canceled, err)
	case <-time.After(stdinGrace):
		return err
	}
}

// loadError is one line naming the archive; a layer that is not what the
// config says means the archive, not a registry, is damaged.
func loadError(what string, err error) error {
	var de *pull.DiffIDError
	var be *pull.BlobError
	switch {
	case errors.Is(err, context.Canceled):
		return &ExitError{Code: exitSignalFirst + 2, Err: fmt.Errorf("load %s: interrupted: nothing of the unfinished image was kept: run it again", what)}
	case errors.As(err, &de):
		return fmt.Errorf("load %s: a layer does not match the image's config: %v: the archive is damaged: make it again", what, de)
	case errors.As(err, &be):
		return fmt.Errorf("load %s: layer %s cannot be read (%v): the archive is damaged: make it again", what, be.Digest, be.Err)
	}
	return fmt.Errorf("load %s: %w", what, err)
}
