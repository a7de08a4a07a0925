package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"husk/build"
	"husk/ctrfs"
	"husk/store"
	"husk/store/container"
	"husk/transfer"
)

// CommitCmd is `husk commit`.
type CommitCmd struct {
	Change    []string `short:"c" help:"Apply a Dockerfile instruction to the image's config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)." placeholder:"INSTRUCTION"`
	Message   string   `short:"m" help:"Commit message (the history entry's comment)."`
	Author    string   `short:"a" help:"Author (e.g. \"Jane <jane@example.com>\")."`
	Pause     bool     `short:"p" default:"true" negatable:"" help:"Stop a running container's processes while its changes are read."`
	Container string   `arg:"" help:"Container name or ID."`
	Name      string   `arg:"" optional:"" help:"Name for the new image (REPOSITORY[:TAG])."`
}

func (c *CommitCmd) Run(g *Globals) error {
	names, err := imageNames(c.Name)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	s, ct, err := openContainer(g, c.Container)
	if err != nil {
		return fmt.Errorf("commit %s: %w", c.Container, err)
	}
	defer s.Close()
	id, err := c.commit(g.Ctx, s, ct, names)
	if err != nil {
		return fmt.Errorf("commit %s: %w", c.Container, err)
	}
	fmt.Fprintln(g.Stdout, "sha256:"+id)
	return nil
}

func (c *CommitCmd) commit(ctx context.Context, s *store.Store, ct *container.Container, names []string) (string, error) {
	img, err := ctrfs.Image(s, ct)
	if err != nil {
		return "", err
	}
	raw, err := s.Config(img)
	if err != nil {
		return "", err
	}
	var cfg v1.ConfigFile
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return "", fmt.Errorf("reading the config of image %.12s: %w", img.ID, err)
	}
	withRunConfig(&cfg.Config, ct)
	if err := build.ApplyChanges(&cfg.Config, c.Change); err != nil {
		return "", err
	}
	if c.Author != "" {
		cfg.Author = c.Author
	}
	// The work directory comes first: the container's processes stay
	// stopped only while its changes are read.
	dir, err := workDir(s, "commit-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	// A container the user paused stays paused, and is read as it is.
	if c.Pause && ct.InitAlive() && !ct.Paused {
		resume, err := container.HoldStopped(ct)
		if err != nil {
			return "", err
		}
		defer resume()
	}
	l, err := layerIn(ctx, dir, func(w io.Writer) error { return ctrfs.WriteChanges(s, ct, w) })
	if err != nil {
		return "", err
	}
	return transfer.StoreNewImage(s, transfer.NewImage{Base: img, Config: cfg, Names: names, History: v1.History{
		CreatedBy: strings.Join(ct.Command, " "), Comment: c.Message, Author: c.Author,
	}}, l)
}

// withRunConfig makes what the container was run with the image's config,
// as Docker's commit does: its command, --entrypoint, -e, -u and -w.
func withRunConfig(cfg *v1.Config, ct *container.Container) {
	rc := ct.Config
	if p := rc.OCI.Process; p != nil {
		if len(p.Args) > 0 {
			cfg.Cmd = append([]string{}, p.Args...)
		}
		for _, kv := range p.Env {
			k, _, _ := strings.Cut(kv, "=")
			cfg.Env = slices.DeleteFunc(cfg.Env, func(e string) bool { return strings.HasPrefix(e, k+"=") || e == k })
			cfg.Env = append(cfg.Env, kv)
		}
		if p.Cwd != "" {
			cfg.WorkingDir = p.Cwd
		}
	}
	if rc.Entrypoint != nil {
		cfg.Entrypoint = nil
		if *rc.Entrypoint != "" {
			cfg.Entrypoint = []string{*rc.Entrypoint}
		}
	}
	if rc.User != "" {
		cfg.User = rc.User
	}
}

// workDir makes a work directory for a layer in the store.
func workDir(s *store.Store, prefix string) (string, error) {
	dir, err := s.TempDir(prefix)
	if err != nil {
		return "", fmt.Errorf("creating a work directory in %s: %w", s.GraphRoot(), err)
	}
	return dir, nil
}

// layerIn writes what write produces to a layer file in the work
// directory dir, checked as a tar.
func layerIn(ctx context.Context, dir string, write func(io.Writer) error) (*transfer.LayerFile, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(write(pw)) }()
	l, err := transfer.WriteLayerFile(ctx, dir, pr)
	pr.CloseWithError(io.ErrClosedPipe)
	return l, err
}

// imageNames is the optional NAME of commit and import, normalized, or
// refused before anything is made.
func imageNames(name string) ([]string, error) {
	if name == "" {
		return nil, nil
	}
	n := store.NormalizeName(name)
	if n == "" {
		return nil, fmt.Errorf("%q is not an image name: use REPOSITORY[:TAG], lower case", name)
	}
	return []string{n}, nil
}
