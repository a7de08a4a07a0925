package cdi

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	cdispec "tags.cncf.io/container-device-interface/specs-go"

	"husk/sandbox"
)

// Apply resolves the named CDI devices in the specs of dirs and adds what
// they edit to c: their nodes to c.Devices (each checked: the user must be
// able to open it), their mounts to c's binds, their variables before -e's
// (so that -e wins), their hooks to c.Hooks. Nothing is written.
func Apply(c *sandbox.Config, dirs []string, names []string) error {
	if len(names) == 0 {
		return nil
	}
	e, err := Lookup(dirs, names)
	if err != nil {
		return err
	}
	what := "CDI device " + strings.Join(names, ", ")
	if e.IntelRdt != nil || len(e.NetDevices) > 0 {
		return fmt.Errorf("%s: its spec moves network devices or sets Intel RDT, which need root on the host: use a device without them", what)
	}
	devs, err := devices(what, e.DeviceNodes)
	if err != nil {
		return err
	}
	hooks, err := hooksOf(what, e.Hooks)
	if err != nil {
		return err
	}
	c.Devices = append(c.Devices, devs...)
	for _, m := range e.Mounts {
		om := mountOf(m)
		if _, err := os.Stat(om.Source); err != nil && om.Type == "bind" {
			return fmt.Errorf("%s: its mount of %s: %w: fix the device's CDI spec", what, om.Source, err)
		}
		c.OCI.Mounts = append(c.OCI.Mounts, om)
	}
	if len(e.Env) > 0 {
		c.OCI.Process.Env = append(slices.Clone(e.Env), c.OCI.Process.Env...)
	}
	c.Hooks = append(c.Hooks, hooks...)
	for _, g := range e.AdditionalGIDs {
		c.GroupAdd = append(c.GroupAdd, strconv.FormatUint(uint64(g), 10))
	}
	return nil
}

// devices are the spec's nodes as binds of the host's: a user namespace
// cannot make a node, and a bound one is of use only if the user may open
// it, which is checked now rather than at the container's first open.
func devices(what string, nodes []*cdispec.DeviceNode) ([]sandbox.Device, error) {
	var out []sandbox.Device
	for _, n := range nodes {
		host := n.HostPath
		if host == "" {
			host = n.Path
		}
		if err := sandbox.CheckDevice(host); err != nil {
			return nil, fmt.Errorf("%s: its device node %w", what, err)
		}
		perms := n.Permissions
		if perms == "" {
			perms = "rwm"
		}
		out = append(out, sandbox.Device{PathOnHost: host, PathInContainer: n.Path, CgroupPermissions: perms})
	}
	return out, nil
}

// bindOnly are mount options that say how to bind, which a bind of husk's
// does anyway (recursive, private in the sandbox's own mount namespace).
var bindOnly = map[string]bool{"bind": true, "rbind": true, "rw": true, "private": true, "rprivate": true,
	"slave": true, "rslave": true, "shared": true, "rshared": true}

// mountOf is a spec's mount in OCI form: a bind unless it names another
// filesystem type, its flags (ro, nosuid, nodev, noexec) kept.
func mountOf(m *cdispec.Mount) specs.Mount {
	out := specs.Mount{Source: m.HostPath, Destination: m.ContainerPath, Type: m.Type}
	bind := m.Type == "" || m.Type == "bind" || slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind")
	if bind {
		out.Type = "bind"
	}
	for _, o := range m.Options {
		if !bindOnly[o] || !bind {
			out.Options = append(out.Options, o)
		}
	}
	return out
}

// hooksOf keeps the hooks the init can run; the others would run as root
// in the runtime's namespace, which a rootless husk has not got, and are
// refused rather than skipped.
func hooksOf(what string, hooks []*cdispec.Hook) ([]sandbox.Hook, error) {
	var out []sandbox.Hook
	for _, h := range hooks {
		if h.HookName != sandbox.HookCreateContainer && h.HookName != sandbox.HookStartContainer {
			return nil, fmt.Errorf("%s: its spec has a %s hook (%s), which needs root on the host: husk runs only createContainer and startContainer hooks, in the container's namespaces", what, h.HookName, h.Path)
		}
		timeout := 0
		if h.Timeout != nil {
			timeout = *h.Timeout
		}
		out = append(out, sandbox.Hook{When: h.HookName, Path: h.Path, Args: h.Args, Env: h.Env, Timeout: timeout})
	}
	return out, nil
}
