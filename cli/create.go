package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"husk/pull"
	"husk/squash"
	"husk/store/container"
	"husk/userns"
)

// CreateCmd is `husk create`: a container record, ready for start.
type CreateCmd struct {
	ContainerFlags
	Image string   `arg:"" help:"Image; pulled when missing."`
	Cmd   []string `arg:"" optional:"" passthrough:"" help:"Command and arguments (default: the image's)."`
}

func (c *CreateCmd) Run(g *Globals) error {
	ct, err := createContainer(g, &c.ContainerFlags, c.Image, c.Cmd)
	if err != nil {
		return err
	}
	fmt.Fprintln(g.Stdout, ct.ID)
	return nil
}

// runDetached is `husk run -d`: create, start under a detached monitor,
// print the ID.
func runDetached(g *Globals, f *ContainerFlags, image string, cmd []string) error {
	ct, err := createContainer(g, f, image, cmd)
	if err != nil {
		return err
	}
	if err := startMonitor(ct); err != nil {
		// run -d that could not start leaves no container behind.
		container.Discard(g.Ctx, g.StorageDriver, ct.ID)
		return err
	}
	fmt.Fprintln(g.Stdout, ct.ID)
	return nil
}

// createContainer resolves the flags into the container's config, finds
// (or pulls) the image and writes the record; nothing is written when any
// of it fails.
func createContainer(g *Globals, f *ContainerFlags, image string, cmd []string) (*container.Container, error) {
	if !squash.IsPath(image) {
		p, err := storedImage(image, f.Pull)
		if err != nil {
			return nil, err
		}
		if p != "" {
			image = p
		}
	}
	if squash.IsPath(image) {
		// A later start may run from another directory.
		abs, err := squash.Check(image)
		if err != nil {
			return nil, err
		}
		image = abs
	}
	cfg, err := f.config(image, cmd, true)
	if err != nil {
		return nil, err
	}
	img, err := findImage(g, image, f.Pull)
	if err != nil {
		return nil, err
	}
	if err := withImage(cfg, img); err != nil {
		return nil, err
	}
	cs, err := container.OpenDefault()
	if err != nil {
		return nil, err
	}
	ct, err := cs.Create(&container.Record{
		Name: f.Name, StorageDriver: g.StorageDriver,
		Command: commandLine(img.Config.Entrypoint, img.Config.Cmd, f.Entrypoint, cmd),
	}, cfg)
	if err != nil {
		return nil, err
	}
	if err := f.writeCIDFile(ct.ID); err != nil {
		container.Discard(g.Ctx, g.StorageDriver, ct.ID)
		return nil, err
	}
	if n := resourceNotice(cfg); n != "" {
		fmt.Fprintln(g.Stderr, n)
	}
	return ct, nil
}

// findImage is findOrPull under --pull: missing pulls only a missing
// image, always pulls first, never refuses a missing one.
func findImage(g *Globals, image, policy string) (*inspectImage, error) {
	if squash.IsPath(image) {
		return fileImage(image) // a file is never pulled
	}
	switch policy {
	case "always":
		if err := pullImage(g, image); err != nil {
			return nil, err
		}
		return inspectOne(g, image)
	case "never":
		img, err := inspectOne(g, image)
		if err != nil {
			return nil, fmt.Errorf("image %s is not in the store and --pull never forbids pulling it: pull it first (husk pull %s)", image, image)
		}
		return img, nil
	}
	return findOrPull(g, image)
}

// commandLine is what the container will run, as Docker composes it.
func commandLine(entry, cmd []string, newEntry *string, args []string) []string {
	if newEntry != nil {
		entry, cmd = nil, nil
		if *newEntry != "" {
			entry = []string{*newEntry}
		}
	}
	if len(args) > 0 {
		cmd = args
	}
	return append(append([]string{}, entry...), cmd...)
}

// findOrPull describes the image (in husk's namespace), pulling it first
// when missing, as docker create does.
func findOrPull(g *Globals, image string) (*inspectImage, error) {
	img, err := inspectOne(g, image)
	if err == nil {
		return img, nil
	}
	fmt.Fprintf(g.Stderr, "Unable to find image '%s' locally\n", image)
	if err := pullImage(g, image); err != nil {
		return nil, err
	}
	return inspectOne(g, image)
}

// pullImage pulls a missing image, its progress and name on stderr: a
// run's stdout belongs to its container.
func pullImage(g *Globals, image string) error {
	code, err := userns.Call(g.Ctx, os.Stderr, pull.CallPull, g.StorageDriver, image)
	if err == nil && code != 0 {
		err = &ExitError{Code: code}
	}
	return err
}

func inspectOne(g *Globals, image string) (*inspectImage, error) {
	var out bytes.Buffer
	var errb strings.Builder
	code, err := userns.CallWith(g.Ctx, &out, &errb, callImageInspect, g.StorageDriver, "", image)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, fmt.Errorf("%s", strings.TrimPrefix(strings.TrimSpace(errb.String()), "husk: "))
	}
	var imgs []inspectImage
	if err := json.Unmarshal(out.Bytes(), &imgs); err != nil || len(imgs) != 1 {
		return nil, fmt.Errorf("inspecting image %s: unexpected answer from husk's image inspect", image)
	}
	return &imgs[0], nil
}
