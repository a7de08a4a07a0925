package cli

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"husk/build"
	"husk/transfer"
)

// ImportCmd is `husk import`.
type ImportCmd struct {
	Change  []string `short:"c" help:"Apply a Dockerfile instruction to the image's config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)." placeholder:"INSTRUCTION"`
	Message string   `short:"m" help:"Commit message (the history entry's comment)."`
	File    string   `arg:"" help:"A tar (gzip or zstd compressed or not), or - for stdin."`
	Name    string   `arg:"" optional:"" help:"Name for the new image (REPOSITORY[:TAG])."`
}

func (c *ImportCmd) Run(g *Globals) error {
	if strings.Contains(c.File, "://") {
		return fmt.Errorf("import %s: husk imports files, not URLs: download it first (curl -o FILE URL)", c.File)
	}
	names, err := imageNames(c.Name)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	cfg := v1.ConfigFile{Architecture: runtime.GOARCH, OS: "linux"}
	if err := build.ApplyChanges(&cfg.Config, c.Change); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	in := io.Reader(os.Stdin)
	if c.File == "-" {
		if isTerminal(os.Stdin) {
			return fmt.Errorf("import: stdin is a terminal: redirect a tar in, or give FILE")
		}
	} else {
		f, err := os.Open(c.File)
		if err != nil {
			return fmt.Errorf("import %s: %w: check the path", c.File, err)
		}
		defer f.Close()
		in = f
	}
	s, err := openStore(g)
	if err != nil {
		return err
	}
	defer s.Close()
	dir, err := workDir(s, "import-")
	if err != nil {
		return fmt.Errorf("import %s: %w", c.File, err)
	}
	defer os.RemoveAll(dir)
	l, err := layerIn(g.Ctx, dir, func(w io.Writer) error { _, err := io.Copy(w, in); return err })
	if err != nil {
		return fmt.Errorf("import %s: %w: give a tar archive", c.File, err)
	}
	comment := c.Message
	if comment == "" {
		comment = "Imported from " + c.File
	}
	id, err := transfer.StoreNewImage(s, transfer.NewImage{Config: cfg, Names: names, History: v1.History{Comment: comment}}, l)
	if err != nil {
		return fmt.Errorf("import %s: %w", c.File, err)
	}
	fmt.Fprintln(g.Stdout, "sha256:"+id)
	return nil
}
