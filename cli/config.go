package cli

import (
	"fmt"
	"os"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/term"

	"husk/network"
	"husk/sandbox"
	"husk/seccomp"
)

// checkTerminal refuses -it when this husk's input, which the container's
// pty would get, is not a terminal.
func (f *ContainerFlags) checkTerminal() error {
	if f.TTY && f.Interactive && !term.IsTerminal(int(os.Stdin.Fd())) {
		return fmt.Errorf("the input device is not a TTY: drop -t, or run husk from a terminal")
	}
	return nil
}

// config resolves run's and create's flags into the container's config,
// once, before anything is written: -e KEY and --env-file are read from
// this process's environment and files, volumes checked, the seccomp
// profile read and compiled, ports parsed. A detached container's terminal
// is its monitor's pty, so the caller's stdin need not be one. The image's
// part (withImage) follows once the image is found.
func (f *ContainerFlags) config(image string, cmd []string, detached bool) (*sandbox.Config, error) {
	restart, err := f.restartPolicy()
	if err != nil {
		return nil, err
	}
	net, err := f.networkConfig()
	if err != nil {
		return nil, err
	}
	if err := f.userNetwork(&net); err != nil {
		return nil, err
	}
	if !detached {
		if err := f.checkTerminal(); err != nil {
			return nil, err
		}
	}
	c := &sandbox.Config{
		Version: sandbox.ConfigVersion, Image: image, Entrypoint: f.Entrypoint, User: f.User,
		KeepID: f.Userns == "keep-id", Privileged: f.Privileged, Network: net, PublishAll: f.PublishAll,
		Interactive: f.Interactive, AutoRemove: f.Rm, Restart: restart, Join: f.join,
		OCI: specs.Spec{Hostname: f.Hostname, Root: &specs.Root{Readonly: f.ReadOnly}},
	}
	if c.Ports, err = network.ParsePorts(f.Publish); err != nil {
		return nil, err
	}
	if c.OCI.Mounts, err = f.mounts(); err != nil {
		return nil, err
	}
	if c.OCI.Process, err = f.process(cmd); err != nil {
		return nil, err
	}
	if err := f.withSlurm(c); err != nil {
		return nil, err
	}
	if err := f.seccompConfig(c); err != nil {
		return nil, err
	}
	if err := f.DockerFlags.apply(c); err != nil {
		return nil, err
	}
	// Last: it creates the volumes missing.
	if err := f.volumes(c); err != nil {
		return nil, err
	}
	return c, nil
}

// withImage adds what the config takes from the image at create: its ID,
// its stop signal unless --stop-signal gave one, and its EXPOSE ports,
// after --expose's, for -P.
func withImage(c *sandbox.Config, img *inspectImage) error {
	c.ImageID = strings.TrimPrefix(img.Id, "sha256:")
	if c.StopSignal == "" {
		c.StopSignal = img.Config.StopSignal
	}
	if !c.PublishAll {
		return nil
	}
	for _, p := range exposedPorts(img) {
		if !slices.Contains(c.Exposed, p) && !slices.Contains(c.Exposed, strings.TrimSuffix(p, "/tcp")) {
			c.Exposed = append(c.Exposed, p)
		}
	}
	if _, err := network.ParsePorts(c.Exposed); err != nil {
		return fmt.Errorf("publishing the image's exposed ports: %w", err)
	}
	return nil
}

// restartPolicy is --restart, checked against --rm.
func (f *ContainerFlags) restartPolicy() (sandbox.RestartPolicy, error) {
	name, max, err := parseRestart(f.Restart)
	if err != nil {
		return sandbox.RestartPolicy{}, err
	}
	if f.Rm && name != "no" {
		return sandbox.RestartPolicy{}, fmt.Errorf("conflicting options: --rm and --restart %s: drop one", f.Restart)
	}
	return sandbox.RestartPolicy{Name: name, MaximumRetryCount: max}, nil
}

// networkConfig is --network, --dns and their conflicts.
func (f *SandboxFlags) networkConfig() (sandbox.NetworkConfig, error) {
	mode, opts, err := f.netMode()
	if err != nil {
		return sandbox.NetworkConfig{}, err
	}
	if mode == "host" && f.Hostname != "" {
		return sandbox.NetworkConfig{}, fmt.Errorf("conflicting options: --hostname and --network host (the host's name is used): drop one")
	}
	n := sandbox.NetworkConfig{Mode: mode, AllowHostLoopback: opts["allow_host_loopback"] == "true", DirectPorts: opts["port_handler"] == "direct"}
	for _, d := range f.DNS {
		up, err := sandbox.DNSUpstream(d)
		if err != nil {
			return n, err
		}
		n.DNS = append(n.DNS, up)
	}
	return n, nil
}

// mounts are -v and --tmpfs, checked, in OCI form.
func (f *SandboxFlags) mounts() ([]specs.Mount, error) {
	var out []specs.Mount
	for _, v := range f.Volume {
		if !isHostBind(v) {
			continue // a volume: volumes() has it
		}
		op, err := sandbox.VolumeOp(v)
		if err != nil {
			return nil, err
		}
		out = append(out, sandbox.MountOf(op))
	}
	for _, t := range f.Tmpfs {
		op, err := sandbox.TmpfsOp(t)
		if err != nil {
			return nil, err
		}
		out = append(out, sandbox.MountOf(op))
	}
	return out, nil
}

// process is the OCI process: the command given, the environment as read
// now, -w, -t, the capabilities and no-new-privileges.
func (f *SandboxFlags) process(cmd []string) (*specs.Process, error) {
	env, err := f.env()
	if err != nil {
		return nil, err
	}
	caps, err := f.caps()
	if err != nil {
		return nil, err
	}
	_, nnp, err := f.securityOpts()
	if err != nil {
		return nil, err
	}
	return &specs.Process{
		Args: cmd, Env: env, Cwd: f.Workdir, Terminal: f.TTY, NoNewPrivileges: nnp,
		Capabilities: &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps},
	}, nil
}

// seccompConfig is --security-opt seccomp=: a profile file is read and
// compiled now, so that a bad one is refused before anything is written,
// and its content is kept, so that a later change of the file does not
// change the container.
func (f *SandboxFlags) seccompConfig(c *sandbox.Config) error {
	profile, _, err := f.securityOpts()
	if err != nil {
		return err
	}
	c.NoFakeIDs = !fakeIDs(f.SecurityOpt)
	switch profile {
	case sandbox.SeccompDefault, sandbox.SeccompUnconfined:
		c.Seccomp = profile
		return nil
	}
	p, err := seccomp.FromFile(profile, c.OCI.Process.Capabilities.Bounding)
	if err != nil {
		return err
	}
	if _, err := seccomp.CompileBPF(p); err != nil {
		return fmt.Errorf("seccomp profile %s: %w: fix the profile or use seccomp=unconfined", profile, err)
	}
	c.Seccomp, c.OCI.Linux = sandbox.SeccompProfile, &specs.Linux{Seccomp: p}
	return nil
}
