package cli

import (
	"io"
	"os"

	"go.podman.io/storage/pkg/archive"

	"husk/ctrfs"
	"husk/store/container"
	"husk/userns"
)

// intoRunning copies into container name if it runs, and reports whether
// it did (or failed trying); a stopped container is left to the caller.
// The copy goes in through exec's entry (ctrfs/joined.go says why), which
// only the host side may take: inside husk's namespace (husk unshare),
// ctrfs.OpenRoot refuses a running container in one line.
func (c *CpCmd) intoRunning(name, src, dst string) (bool, error) {
	ct, done, err := running(name)
	if ct == nil {
		return done, err
	}
	return true, c.intoJoined(ct, src, dst)
}

// outOfRunning copies src out of container name if it runs, from inside
// it: its volumes and binds are in its mount namespace only.
func (c *CpCmd) outOfRunning(g *Globals, name, src, dst string) (bool, error) {
	ct, done, err := running(name)
	if ct == nil {
		return done, err
	}
	spec, err := (&ExecCmd{}).spec(ct.ID)
	if err != nil {
		return true, err
	}
	return true, ctrfs.Joined{Pid: ct.InitPID, Spec: spec}.CopyOut(src, c.FollowLink, dst, g.Stdout)
}

// running is container name when it runs and can be copied from inside;
// done (with err) when the copy ends here, nil and not done for a stopped
// container (or inside husk's namespace), left to the caller.
func running(name string) (ct *container.Container, done bool, err error) {
	if userns.Inside() {
		return nil, false, nil
	}
	cs, err := container.OpenDefault()
	if err != nil {
		return nil, true, err
	}
	ct, err = cs.Find(name)
	if err != nil {
		return nil, true, err
	}
	if !ct.Live() {
		return nil, false, nil
	}
	if err := ctrfs.Running(ct); err != nil {
		return nil, true, err
	}
	return ct, true, nil
}

// intoJoined copies the host path src (or a tar on stdin) to dst of the
// running container ct: the host's files read here, as the user, their
// owners as the container sees them for -a.
func (c *CpCmd) intoJoined(ct *container.Container, src, dst string) error {
	spec, err := (&ExecCmd{}).spec(ct.ID)
	if err != nil {
		return err
	}
	j := ctrfs.Joined{Pid: ct.InitPID, Spec: spec}
	m, err := c.ownerMapping()
	if err != nil {
		return err
	}
	if src == "-" {
		// A tar's owners are the container's already.
		return j.CopyIn(os.Stdin, archive.CopyInfo{}, dst, c.Archive && m != nil)
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
	var r io.Reader = content
	if c.Archive && m != nil && os.Geteuid() != 0 {
		mapped := ctrfs.ToContainerIDs(content, m)
		defer mapped.Close()
		r = mapped
	}
	return j.CopyIn(r, from, dst, c.Archive && m != nil)
}

// ownerMapping is the mapping that -a keeps owners through, nil where
// one uid is mapped (every owner is the container's root) or without -a.
// As real root, husk maps nothing: owners stay as they are.
func (c *CpCmd) ownerMapping() (*userns.Mapping, error) {
	if !c.Archive {
		return nil, nil
	}
	if os.Geteuid() == 0 {
		return &userns.Mapping{}, nil
	}
	m, err := userns.Detect()
	if err != nil || m.Mode != userns.ModeSubuid {
		return nil, err
	}
	return m, nil
}
