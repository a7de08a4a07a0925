package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"husk/store/container"
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
	if err := startMonitor(g, ct, false); err != nil {
		// run -d that could not start leaves no container behind.
		forgetAll(g, ct.ID)
		return err
	}
	fmt.Fprintln(g.Stdout, ct.ID)
	return nil
}

// createContainer resolves the flags into the container's config, finds
// (or pulls) the image and writes the record; nothing is written when any
// of it fails.
func createContainer(g *Globals, f *ContainerFlags, image string, cmd []string) (*container.Container, error) {
	cfg, err := f.config(image, cmd, true)
	if err != nil {
		return nil, err
	}
	img, err := findOrPull(g, image)
	if err != nil {
		return nil, err
	}
	if err := withImage(cfg, img); err != nil {
		return nil, err
	}
	cs, err := openContainers()
	if err != nil {
		return nil, err
	}
	return cs.Create(&container.Record{
		Name: f.Name, StorageDriver: g.StorageDriver,
		Command: commandLine(img.Config.Entrypoint, img.Config.Cmd, f.Entrypoint, cmd),
	}, cfg)
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

// findOrPull inspects the image through husk itself (in its namespace),
// pulling it first when missing, as docker create does.
func findOrPull(g *Globals, image string) (*inspectImage, error) {
	img, err := inspectOne(g, image)
	if err == nil {
		return img, nil
	}
	fmt.Fprintf(g.Stderr, "Unable to find image '%s' locally\n", image)
	if code := runHusk(g, "pull", image); code != 0 {
		return nil, &ExitError{Code: code}
	}
	return inspectOne(g, image)
}

func inspectOne(g *Globals, image string) (*inspectImage, error) {
	cmd := newHusk(huskArgs(g.StorageDriver, "image", "inspect", image)...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s", strings.TrimPrefix(strings.TrimSpace(errb.String()), "husk: "))
	}
	var imgs []inspectImage
	if err := json.Unmarshal(out.Bytes(), &imgs); err != nil || len(imgs) != 1 {
		return nil, fmt.Errorf("inspecting image %s: unexpected answer from husk image inspect", image)
	}
	return &imgs[0], nil
}
