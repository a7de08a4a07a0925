package sandbox

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"husk/network"
	"husk/seccomp"
	"husk/store"
	"husk/userns"
)

// ConfigVersion is the version of Config this husk writes and reads.
const ConfigVersion = 1

// Config is a container's configuration, resolved once when `create` or
// `run` is typed and kept in its record: what the OCI runtime spec
// expresses in OCI, the rest in husk's own fields. Every start (the
// monitor, the init, the host-built spec), exec, inspect and ps read it;
// nothing reads a command line again. The image's own config (its
// entrypoint, cmd, environment, working directory and user) applies at
// each start from the image pinned by ImageID, as Docker's does.
type Config struct {
	Version int `json:"version"`

	// OCI holds the process (Args: the command given after the image,
	// empty for the image's; Env: -e and --env-file as they were read at
	// create; Cwd: -w, empty for the image's; Terminal; Capabilities;
	// NoNewPrivileges), Hostname, Mounts (-v with absolute host paths,
	// --tmpfs, --mount, and the volumes' binds), Root.Readonly and, for a profile file, Linux.Seccomp.
	OCI specs.Spec `json:"oci"`

	Image   string `json:"image"`             // as the user gave it
	ImageID string `json:"imageID,omitempty"` // once known: at create, or at a run's first start
	// Entrypoint is --entrypoint: nil keeps the image's, "" clears it.
	Entrypoint *string `json:"entrypoint,omitempty"`
	// User is -u as given: it is resolved in the image's passwd at start.
	User string `json:"user,omitempty"`
	// Seccomp is "default", "unconfined", or "profile" for the profile
	// file's content in OCI.Linux.Seccomp.
	Seccomp string `json:"seccomp"`
	KeepID  bool   `json:"keepID,omitempty"`
	// NoFakeIDs is --security-opt fake-ids=false: with the single mapping,
	// id changes and chowns fail as the kernel says instead of being faked
	// (seccomp.FakeIDs).
	NoFakeIDs  bool `json:"noFakeIDs,omitempty"`
	Privileged bool `json:"privileged,omitempty"`

	Network NetworkConfig `json:"network"`
	// Ports are -p, parsed; with PublishAll the image's Exposed ports too.
	Ports      []network.Port `json:"ports,omitempty"`
	PublishAll bool           `json:"publishAll,omitempty"`
	Exposed    []string       `json:"exposed,omitempty"`

	Interactive bool          `json:"interactive,omitempty"`
	AutoRemove  bool          `json:"autoRemove,omitempty"`
	Restart     RestartPolicy `json:"restart"`
	// StopSignal is --stop-signal, else the image's STOPSIGNAL.
	StopSignal string `json:"stopSignal,omitempty"`
	// StopTimeout is --stop-timeout in seconds: husk stop's wait without -t.
	StopTimeout *int `json:"stopTimeout,omitempty"`

	// Labels are -l and --label-file.
	Labels map[string]string `json:"labels,omitempty"`
	// ExtraHosts are --add-host NAME:IP, IP possibly host-gateway.
	ExtraHosts []string `json:"extraHosts,omitempty"`
	// GroupAdd are --group-add, names resolved in the image's /etc/group
	// at start, or numbers.
	GroupAdd []string `json:"groupAdd,omitempty"`
	Devices  []Device `json:"devices,omitempty"`
	// Hooks are the CDI devices' hooks (cdi.Resolve): their device
	// nodes, mounts and variables are in Devices, OCI.Mounts and
	// OCI.Process.Env.
	Hooks []Hook `json:"hooks,omitempty"`
	// ShmSize is --shm-size in bytes (0: Docker's 64 MiB).
	ShmSize int64 `json:"shmSize,omitempty"`
	// Init is --init: accepted; husk's own init is PID 1 anyway.
	Init bool      `json:"init,omitempty"`
	Log  LogConfig `json:"log"`
	// Volumes are the volumes among OCI.Mounts, by name.
	Volumes []VolumeRef `json:"volumes,omitempty"`

	// Slurm is the job step the container was created in, nil outside one.
	Slurm *SlurmStep `json:"slurm,omitempty"`
	// Join is run --join's key: the container is shared by the tasks that
	// give it, its init holds it open, and each task's command is an exec.
	Join string `json:"join,omitempty"`
}

// LogConfig is --log-driver and --log-opt: json-file (with max-size and
// max-file: the monitor's log rotation) or none.
type LogConfig struct {
	Driver  string `json:"driver,omitempty"` // "" is json-file
	MaxSize int64  `json:"maxSize,omitempty"`
	MaxFile int    `json:"maxFile,omitempty"`
}

// Log drivers.
const (
	LogJSONFile = "json-file"
	LogNone     = "none"
)

// NetworkConfig is --network MODE[:OPTIONS] and --dns.
type NetworkConfig struct {
	Mode              string   `json:"mode"` // builtin, slirp4netns, pasta, none, host
	AllowHostLoopback bool     `json:"allowHostLoopback,omitempty"`
	DirectPorts       bool     `json:"directPorts,omitempty"` // port_handler=direct
	DNS               []string `json:"dns,omitempty"`         // host:port
	// Networks are the user-defined networks joined (run --network NAME,
	// network connect); Mode is then the first one's name, as Docker's
	// NetworkMode is. The first is the sandbox's interface.
	Networks []network.Attachment `json:"networks,omitempty"`
}

// RestartPolicy is --restart: no, always, unless-stopped, on-failure[:N].
type RestartPolicy struct {
	Name              string `json:"name"`
	MaximumRetryCount int    `json:"maximumRetryCount,omitempty"`
}

// Seccomp markers.
const (
	SeccompDefault    = "default"
	SeccompUnconfined = "unconfined"
	SeccompProfile    = "profile"
)

// DecodeConfig reads a container's config, refusing a version this husk
// does not know.
func DecodeConfig(b []byte) (*Config, error) {
	var probe struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("reading the container's config: %w: remove the container and create it again", err)
	}
	if probe.Version != ConfigVersion {
		return nil, fmt.Errorf("the container's config is version %d, and this husk reads version %d: remove the container and create it again", probe.Version, ConfigVersion)
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("reading the container's config: %w: remove the container and create it again", err)
	}
	return &c, nil
}

// Terminal reports -t.
func (c *Config) Terminal() bool { return c.OCI.Process != nil && c.OCI.Process.Terminal }

// HostNetwork reports --network host.
func (c *Config) HostNetwork() bool { return c.Network.Mode == "host" }

// NetSpec is the sandbox's network as the init sets it up; nil for none
// and host.
func (c *Config) NetSpec() (*network.Spec, error) {
	if c.Network.Mode == "none" || c.Network.Mode == "host" {
		return nil, nil
	}
	mode, cfg := c.Network.Mode, network.Config{AllowHostLoopback: c.Network.AllowHostLoopback, DNSUpstreams: c.Network.DNS}
	var shared *network.Member
	if len(c.Network.Networks) > 0 {
		a := c.Network.Networks[0]
		mode, cfg, shared = network.Builtin, a.Config(), &network.Member{Attachment: a}
	}
	cfg, err := cfg.WithDefaults()
	if err != nil {
		return nil, err
	}
	publish := len(c.Ports) > 0 || c.PublishAll
	return &network.Spec{Mode: mode, Config: cfg, Dials: publish, DirectPorts: publish && c.Network.DirectPorts, Shared: shared}, nil
}

// NetHost is the host side of the container's network for one start or
// several, its published ports bound (nil: no network of its own). A port
// in use fails here, before anything starts.
func (c *Config) NetHost() (*network.Host, error) {
	spec, err := c.NetSpec()
	if err != nil || spec == nil {
		return nil, err
	}
	if m := spec.Shared; m != nil {
		root, _, run, err := store.Paths()
		if err != nil {
			return nil, err
		}
		m.Socket = network.SwitchSocket(run, root, m.ID)
	}
	ports, err := c.PublishedPorts()
	if err != nil {
		return nil, err
	}
	return network.NewHost(spec, ports)
}

// PublishedPorts are the ports each start binds: -p and, with -P, the
// image's exposed ports on free host ports.
func (c *Config) PublishedPorts() ([]network.Port, error) {
	ports := slices.Clone(c.Ports)
	if !c.PublishAll {
		return ports, nil
	}
	exposed, err := network.ParsePorts(c.Exposed)
	return append(ports, exposed...), err
}

// DNSUpstream reads --dns IP[:PORT] as host:port.
func DNSUpstream(d string) (string, error) {
	if _, err := netip.ParseAddrPort(d); err == nil {
		return d, nil
	}
	if _, err := netip.ParseAddr(d); err != nil {
		return "", fmt.Errorf("invalid --dns %q: give an IP address, optionally with :PORT", d)
	}
	return net.JoinHostPort(d, "53"), nil
}

// RunOptions are the parts of a start that come from the config; the
// caller adds the root (Scratch, RootOps). seccompCache is where compiled
// filters are kept ("" compiles without the cache); single is the single
// mapping, which forbids setgroups and fakes the id changes.
func (c *Config) RunOptions(id, seccompCache string, single bool) (RunOptions, error) {
	p := c.OCI.Process
	if p == nil {
		p = &specs.Process{}
	}
	o := RunOptions{
		ID: id, Cmd: p.Args, Entrypoint: c.Entrypoint, Env: p.Env, Workdir: p.Cwd, User: c.User,
		Hostname: c.OCI.Hostname, HostNet: c.HostNetwork(), Terminal: p.Terminal,
		KeepID: c.KeepID, Privileged: c.Privileged, NoNewPrivs: p.NoNewPrivileges,
		ReadOnly:   c.OCI.Root != nil && c.OCI.Root.Readonly,
		ExtraHosts: c.ExtraHosts, GroupAdd: c.GroupAdd, ShmSize: c.ShmSize, Devices: c.Devices,
		Hooks: c.Hooks, Hold: c.Join != "",
	}
	// A default guard on the container's processes, unless --pids-limit
	// or --ulimit nproc= set one: most hosts give no cgroup to hold a
	// pids.max, and where one does the rlimit costs nothing.
	rl := slices.Clone(p.Rlimits)
	if !HasRlimit(rl, "RLIMIT_NPROC") {
		rl = append(rl, PidsRlimit(DefaultPidsLimit))
	}
	var err error
	if o.Rlimits, err = rlimitsOf(rl); err != nil {
		return o, err
	}
	if p.Capabilities != nil {
		o.Caps = p.Capabilities.Bounding
	}
	for _, m := range c.OCI.Mounts {
		if m.Type == "tmpfs" {
			o.Tmpfs = append(o.Tmpfs, OpOf(m))
		} else {
			o.Volumes = append(o.Volumes, OpOf(m))
		}
	}
	if o.Net, err = c.NetSpec(); err != nil {
		return o, err
	}
	o.NoSetGroups = single
	o.FakeIDs = single && !c.NoFakeIDs && c.Seccomp != SeccompUnconfined && c.Seccomp != SeccompProfile
	o.SeccompBPF, err = c.SeccompBPF(seccompCache, single && !c.NoFakeIDs)
	return o, err
}

// SeccompBPF is the container's filter (nil when unconfined). Docker's
// profile depends on the capabilities, which the config fixes; fakeIDs
// adds seccomp.FakeIDs to it (not to a profile file the user gave).
func (c *Config) SeccompBPF(cache string, fakeIDs bool) ([]byte, error) {
	var caps []string
	if p := c.OCI.Process; p != nil && p.Capabilities != nil {
		caps = p.Capabilities.Bounding
	}
	var prof *specs.LinuxSeccomp
	switch c.Seccomp {
	case SeccompUnconfined:
		return nil, nil
	case SeccompProfile:
		if c.OCI.Linux != nil {
			prof = c.OCI.Linux.Seccomp
		}
		if prof == nil {
			return nil, fmt.Errorf("the container's config names a seccomp profile but holds none: remove the container and create it again")
		}
	default:
		var err error
		if prof, err = seccomp.Default(caps); err != nil {
			return nil, err
		}
		if fakeIDs {
			prof = seccomp.FakeIDs(prof, caps)
		}
	}
	if cache == "" {
		return seccomp.CompileBPF(prof)
	}
	return seccomp.CachedBPF(prof, cache)
}

// mountFlags are the flags a mount's OCI options name.
type mountFlag struct {
	name string
	flag uintptr
}

var mountFlags = []mountFlag{{"ro", unix.MS_RDONLY}, {"nosuid", unix.MS_NOSUID}, {"nodev", unix.MS_NODEV}, {"noexec", unix.MS_NOEXEC}}

// MountOf is a volume's or tmpfs's Op (VolumeOp, TmpfsOp) in OCI form.
func MountOf(op Op) specs.Mount {
	m := specs.Mount{Destination: op.Target, Source: op.Source, Type: op.FSType}
	if op.Kind == KindBind {
		m.Type, m.Options = "bind", []string{"rbind"}
	}
	for _, f := range mountFlags {
		if op.Flags&f.flag != 0 {
			m.Options = append(m.Options, f.name)
		}
	}
	if op.Data != "" {
		m.Options = append(m.Options, strings.Split(op.Data, ",")...)
	}
	return m
}

// OpOf is MountOf's inverse: the Op the init applies for a mount.
func OpOf(m specs.Mount) Op {
	op := Op{Kind: KindMount, Source: m.Source, Target: m.Destination, FSType: m.Type}
	if m.Type == "bind" {
		op.Kind, op.FSType = KindBind, ""
	}
	var data []string
	for _, o := range m.Options {
		i := slices.IndexFunc(mountFlags, func(f mountFlag) bool { return f.name == o })
		switch {
		case i >= 0:
			op.Flags |= mountFlags[i].flag
		case o != "rbind":
			data = append(data, o)
		}
	}
	op.Data = strings.Join(data, ",")
	return op
}

// LaunchOptions are what a start of container id takes from its config:
// the network namespace, standard input, the terminal, and its cgroup
// where one can hold its limits (where none can, create said so).
func (c *Config) LaunchOptions(id string) Options {
	o := Options{NewNet: !c.HostNetwork(), Terminal: c.Terminal()}
	if c.OCI.Linux != nil {
		o.Cgroup, _ = PlanCgroup(id, c.OCI.Linux.Resources)
	}
	if c.Interactive {
		o.Stdin = os.Stdin
	}
	return o
}

// Mapping is the ID mapping of the container's user namespace: husk's
// usual one, or with keep-id the user's own uid and gid mapped to
// themselves; nil for real root, which needs none.
func (c *Config) Mapping() (*userns.Mapping, error) {
	if c.KeepID {
		return userns.KeepID(), nil
	}
	if os.Geteuid() == 0 {
		return nil, nil
	}
	return userns.Detect()
}
