package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"husk/pull"
)

// PullCmd is `husk pull`.
type PullCmd struct {
	Quiet     bool   `short:"q" help:"Print no progress, only the image's name."`
	Platform  string `help:"Platform of the image in an index: os/arch[/variant] (default: this host's)." placeholder:"OS/ARCH"`
	TLSVerify bool   `name:"tls-verify" default:"true" negatable:"" help:"Verify the registry's TLS certificate and require HTTPS (except on loopback)."`
	Ref       string `arg:"" name:"image" help:"Image reference, e.g. busybox or 127.0.0.1:5000/x:tag."`
}

func (c *PullCmd) Run(g *Globals) error {
	s, err := openStore(g)
	if err != nil {
		return err
	}
	defer s.Close()
	name, err := pull.Pull(g.Ctx, s, pull.Options{
		Ref: c.Ref, Platform: c.Platform, TLSVerify: c.TLSVerify, Quiet: c.Quiet,
		TTY: isTerminal(os.Stderr), Stderr: g.Stderr,
	})
	if errors.Is(err, context.Canceled) {
		return &ExitError{Code: exitSignalFirst + 2, Err: fmt.Errorf("pull %s: interrupted: run the same pull again to complete it", c.Ref)}
	}
	if err != nil {
		return err
	}
	// The manifest's digest, as Docker prints it: NAME@DIGEST runs
	// exactly this image from now on (store.Lookup), wherever it is pulled.
	if img, err := s.Lookup(name); err == nil && img.Digest != "" && !c.Quiet {
		fmt.Fprintf(g.Stdout, "Digest: %s\n", img.Digest)
	}
	fmt.Fprintln(g.Stdout, name)
	return nil
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
