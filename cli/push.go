package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/distribution/reference"

	"husk/pull"
	"husk/store"
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
	s, err := openStore(g)
	if err != nil {
		return err
	}
	defer s.Close()
	refs := []string{c.Ref}
	if c.AllTags {
		if refs, err = tagsOf(s, c.Ref); err != nil {
			return err
		}
	}
	for _, ref := range refs {
		p, err := pull.Push(g.Ctx, s, pull.PushOptions{Ref: ref, TLSVerify: c.TLSVerify, Quiet: c.Quiet, Stderr: g.Stderr})
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
	}
	return nil
}

// tagsOf is every name here in the repository of ref, which must not name
// a tag (Docker's rule for --all-tags).
func tagsOf(s *store.Store, ref string) ([]string, error) {
	r, err := store.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("push %s: %w", ref, err)
	}
	repo := store.RepoName(r.Context())
	if named, err := reference.ParseNormalizedNamed(ref); err != nil || !reference.IsNameOnly(named) {
		return nil, fmt.Errorf("push %s: --all-tags takes a repository without a tag: give %s", ref, repo)
	}
	images, err := s.Images()
	if err != nil {
		return nil, fmt.Errorf("push %s: listing images: %w", ref, err)
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
