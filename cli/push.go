package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	storage "go.podman.io/storage"

	"husk/pull"
	"husk/store"
	"husk/userns"
)

// PushCmd is `husk push`.
type PushCmd struct {
	AllTags    bool   `name:"all-tags" short:"a" help:"Push every tag of the repository."`
	DigestFile string `name:"digestfile" help:"Write the pushed manifest's digest to FILE." placeholder:"FILE"`
	Quiet      bool   `short:"q" help:"Print no progress, only the pushed name."`
	TLSVerify  bool   `name:"tls-verify" default:"true" negatable:"" help:"Verify the registry's TLS certificate and require HTTPS (except on loopback)."`
	Ref        string `arg:"" name:"image" help:"Name of an image here, e.g. 127.0.0.1:5000/x:tag."`
}

func (c *PushCmd) Run(g *Globals) error {
	// Asked once: on the host, or in the namespace when husk entered it
	// before Go started; not again in a child re-executed to go on.
	if !userns.Reexecuted() {
		if done, err := c.reuseStored(g); done {
			return err
		}
	}
	s, err := openStore(g)
	if err != nil {
		return err
	}
	defer s.Close()
	refs := []string{c.Ref}
	if c.AllTags {
		images, err := s.Images()
		if err != nil {
			return fmt.Errorf("push %s: listing images: %w", c.Ref, err)
		}
		if refs, err = tagsOf(images, c.Ref); err != nil {
			return err
		}
	}
	for _, ref := range refs {
		p, err := pull.Push(g.Ctx, s, c.options(g, ref))
		if err := c.report(g, ref, p, err); err != nil {
			return err
		}
	}
	return nil
}

// reuseStored pushes, without opening the store (nor entering the user
// namespace, on the host), images whose blobs are all in the registry
// already (pulled from it, re-tagged): their records are read as files.
// It does nothing (done false) unless every image the command names can
// go so; the push then opens the store, in the namespace, where the
// layers can be read.
func (c *PushCmd) reuseStored(g *Globals) (done bool, err error) {
	repo, err := repoOf(c.Ref)
	if err != nil {
		return false, nil
	}
	stored, err := store.ImagesOnHost(g.StorageDriver, func(img *storage.Image) bool {
		return slices.ContainsFunc(img.Names, func(n string) bool { r, _ := store.SplitName(n); return r == repo })
	})
	if err != nil {
		return false, nil
	}
	refs := []string{c.Ref}
	if c.AllTags {
		images := make([]storage.Image, len(stored))
		for i := range stored {
			images[i] = stored[i].Image
		}
		if refs, err = tagsOf(images, c.Ref); err != nil {
			return false, nil
		}
	}
	// One image is pushed unchecked: should the registry lack a blob, the
	// push says so before it names anything, and starts again in the
	// namespace. Of several, each is checked before the first is pushed,
	// so that none is pushed (and printed) twice.
	check := len(refs) > 1
	var pushes []*pull.Reuse
	for _, ref := range refs {
		r := pull.ReuseOnHost(g.Ctx, stored, c.options(g, ref), check)
		if r == nil {
			return false, nil
		}
		pushes = append(pushes, r)
	}
	for i, r := range pushes {
		p, err := r.Push(g.Ctx)
		if errors.Is(err, pull.ErrNotReused) && !check {
			return false, nil
		}
		if err := c.report(g, refs[i], p, err); err != nil {
			return true, err
		}
	}
	return true, nil
}

func (c *PushCmd) options(g *Globals, ref string) pull.PushOptions {
	return pull.PushOptions{Ref: ref, TLSVerify: c.TLSVerify, Quiet: c.Quiet, Stderr: g.Stderr}
}

// report prints what one push did, or says why it failed.
func (c *PushCmd) report(g *Globals, ref string, p *pull.Pushed, err error) error {
	if errors.Is(err, context.Canceled) {
		return &ExitError{Code: exitSignalFirst + 2, Err: fmt.Errorf("push %s: interrupted: run the same push again to complete it", ref)}
	}
	if err != nil {
		return err
	}
	if c.Quiet {
		fmt.Fprintln(g.Stdout, p.Name)
	} else {
		fmt.Fprintf(g.Stdout, "%s: digest: %s size: %d\n", p.Tag, p.Digest, p.Size)
	}
	if c.DigestFile != "" {
		if err := os.WriteFile(c.DigestFile, []byte(p.Digest.String()), 0o644); err != nil {
			return fmt.Errorf("push %s: writing the digest to %s: %w", ref, c.DigestFile, err)
		}
	}
	return nil
}

// repoOf is the repository of a name (its registry and path).
func repoOf(ref string) (string, error) {
	r, err := store.ParseReference(ref)
	if err != nil {
		return "", err
	}
	return store.RepoName(r.Context()), nil
}

// tagsOf is every name among images in the repository of ref, which must
// not name a tag (Docker's rule for --all-tags).
func tagsOf(images []storage.Image, ref string) ([]string, error) {
	repo, err := repoOf(ref)
	if err != nil {
		return nil, fmt.Errorf("push %s: %w", ref, err)
	}
	if !store.NameOnly(ref) {
		return nil, fmt.Errorf("push %s: --all-tags takes a repository without a tag: give %s", ref, repo)
	}
	var out []string
	for _, img := range images {
		for _, n := range img.Names {
			if rn, _ := store.SplitName(n); rn == repo && !strings.Contains(n, "@") {
				out = append(out, n)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("push %s: no image here is tagged in that repository: see 'husk images'", ref)
	}
	sort.Strings(out)
	return out, nil
}
