package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"husk/ctrfs"
	"husk/store"
	"husk/store/container"
)

// CpCmd is `husk cp`.
type CpCmd struct {
	Archive    bool   `short:"a" help:"Keep the files' owners (else they belong to the container's root, or to you on the host)."`
	FollowLink bool   `short:"L" name:"follow-link" help:"Copy what a symlink SRC points to, not the link."`
	Src        string `arg:"" help:"CONTAINER:PATH, a host path, or - (a tar on stdin)."`
	Dst        string `arg:"" help:"CONTAINER:PATH, a host path, or - (a tar on stdout)."`
}

// containerPath splits CONTAINER:PATH; a host path with a colon is given
// as ./NAME or an absolute path, as in Docker.
func containerPath(arg string) (name, p string, ok bool) {
	if strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, ".") {
		return "", arg, false
	}
	name, p, ok = strings.Cut(arg, ":")
	if !ok || name == "" {
		return "", arg, false
	}
	return name, p, true
}

func (c *CpCmd) Run(g *Globals) error {
	srcCtr, srcPath, fromCtr := containerPath(c.Src)
	dstCtr, dstPath, toCtr := containerPath(c.Dst)
	var err error
	switch {
	case fromCtr == toCtr:
		return fmt.Errorf("cp: copy between a container and the host: one of SRC and DST is CONTAINER:PATH, the other a host path or -")
	case c.Dst == "-" && isTerminal(os.Stdout):
		return fmt.Errorf("cp: refusing to write a tar to a terminal: redirect the output")
	case fromCtr:
		var done bool
		if done, err = c.outOfRunning(g, srcCtr, srcPath, dstPath); !done {
			err = withRoot(g, srcCtr, false, func(_ *store.Store, _ *container.Container, root string) error {
				return c.out(g, root, srcPath, dstPath)
			})
		}
	default:
		err = c.into(g, dstCtr, srcPath, dstPath)
	}
	if err != nil {
		return fmt.Errorf("cp %s %s: %w", c.Src, c.Dst, err)
	}
	return nil
}

// out copies src of the container to the host path dst (or stdout).
func (c *CpCmd) out(g *Globals, root, src, dst string) error {
	info, err := ctrfs.SourceIn(root, src, c.FollowLink)
	if err != nil {
		return err
	}
	content, err := ctrfs.TarIn(root, info)
	if err != nil {
		return err
	}
	defer content.Close()
	if dst == "-" {
		_, err = io.Copy(g.Stdout, content)
		return err
	}
	return ctrfs.CopyToHost(content, info, dst)
}

// into copies the host path src (or a tar on stdin) to dst of container
// name: a running one's root as its processes see it (cp_running.go), a
// stopped one's mounted here.
func (c *CpCmd) into(g *Globals, name, src, dst string) error {
	if done, err := c.intoRunning(name, src, dst); done {
		return err
	}
	return withRoot(g, name, true, func(s *store.Store, _ *container.Container, root string) error {
		return c.in(g, root, src, dst, c.Archive && !s.Squashing)
	})
}

// in copies the host path src (or a tar on stdin) to dst of the container.
func (c *CpCmd) in(g *Globals, root, src, dst string, keepOwners bool) error {
	to, err := ctrfs.DestIn(root, dst)
	if err != nil {
		return err
	}
	if src == "-" {
		if !to.IsDir {
			return fmt.Errorf("%s: a tar from stdin goes into a directory: give an existing directory", dst)
		}
		return ctrfs.Untar(root, to.Path, os.Stdin, keepOwners)
	}
	from, err := ctrfs.HostSource(src, c.FollowLink)
	if err != nil {
		return err
	}
	content, err := ctrfs.Tar(from)
	if err != nil {
		return err
	}
	defer content.Close()
	return ctrfs.ExtractIn(root, content, from, to, keepOwners)
}
