package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"husk/network"
	"husk/sandbox"
	"husk/start"
	"husk/store"
	"husk/store/usernet"
	"husk/userns"
)

// prelaunch is what the prelaunch (start/prelaunch.go) needs of this
// run's flags to write its launch down, or nil when the run does not
// qualify. Only runs that need nothing of the Go side before their process
// starts qualify: no pty to relay, no name to check, no published ports or
// external network helper, no record to keep afterwards. The builtin
// network qualifies: its stack starts with the Go side, and packets wait
// in the TAP device's queue until then.
func (c *RunCmd) prelaunch(mapping *userns.Mapping, cfg *sandbox.Config) *start.Prelaunchable {
	// In a Slurm step the environment, part of the key, is new each step:
	// a written launch would never be followed again.
	if slurmStep() != nil {
		return nil
	}
	// Nor do runs whose flags ask the Go side for something each time:
	// a cidfile, a pull, a notice, a file or device read at create.
	d := &c.DockerFlags
	if d.CIDFile != "" || d.Pull == "always" || d.Memory != "" || d.CPUs != "" || d.CpusetCPUs != "" || d.PidsLimit != nil || len(d.LabelFile) > 0 || len(d.Device) > 0 || d.GPUs != "" {
		return nil
	}
	mode, _, err := c.netMode()
	k := c.imageArg()
	// A user-defined network too: the launch reserves its address, which
	// each run claims (start.Prelaunchable), and the member joins the
	// switch with the Go side, once the sandbox sends a packet.
	nets := cfg.Network.Networks
	if !c.Rm || c.TTY || c.Name != "" || len(c.Publish) > 0 || c.PublishAll || c.Userns != "" || err != nil ||
		(mode != "none" && mode != "host" && mode != network.Builtin && len(nets) != 1) || len(nets) > 1 || k < 0 ||
		mapping == nil || (mapping.Mode != userns.ModeSingle && mapping.Mode != userns.ModeSubuid) {
		return nil
	}
	p := &start.Prelaunchable{KeyArg: k, Files: slices.Clone(c.EnvFile)}
	if c.storeName != "" {
		// A squashfs store's name: the launch watches every store's index,
		// which a publish replaces (the name moved, or an earlier store
		// given it), and the file it names (start.Prelaunchable.watched).
		stores, err := store.ImageStores()
		if err != nil {
			return nil
		}
		for _, d := range stores {
			p.Files = append(p.Files, filepath.Join(d, store.SquashIndex))
		}
	}
	if len(nets) == 1 {
		ns, err := usernet.Open()
		if err != nil {
			return nil
		}
		p.Files = append(p.Files, ns.DefinitionPath(nets[0].Network))
	}
	for _, o := range c.SecurityOpt {
		if k, v, _ := strings.Cut(o, "="); k == "seccomp" && v != "unconfined" && v != "default" {
			p.Files = append(p.Files, v)
		}
	}
	for _, v := range c.Volume {
		src, _, _ := strings.Cut(v, ":")
		p.Dirs = append(p.Dirs, src)
	}
	return p
}

// imageArg is the index in os.Args of the image argument, the last of the
// launch's key, when the arguments after it are exactly the command; -1
// when they are not (a "--", say).
func (c *RunCmd) imageArg() int {
	k := len(os.Args) - 1 - len(c.Cmd)
	image := c.Image
	if c.storeName != "" {
		image = c.storeName
	}
	if k < 1 || os.Args[k] != image || !slices.Equal(os.Args[k+1:], c.Cmd) {
		return -1
	}
	return k
}
