package cli

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"

	units "github.com/docker/go-units"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"husk/cdi"
	"husk/network"
	"husk/pull"
	"husk/sandbox"
	"husk/store/container"
	"husk/userns"
)

// DockerFlags are the rest of Docker's run and create flags: metadata,
// stopping, /etc/hosts, groups, devices, limits, logging, and how the
// image is found.
type DockerFlags struct {
	Label       []string `short:"l" help:"Set a label on the container." placeholder:"KEY=VALUE"`
	LabelFile   []string `name:"label-file" help:"Read labels from a file of KEY=VALUE lines." placeholder:"FILE"`
	StopSignal  string   `name:"stop-signal" help:"Signal husk stop sends (default: the image's STOPSIGNAL, else SIGTERM)."`
	StopTimeout *int     `name:"stop-timeout" help:"Seconds husk stop waits before SIGKILL (default 10)."`
	Init        bool     `help:"Accepted for Docker's sake: husk's own init is always PID 1 (the command is PID 2)."`
	AddHost     []string `name:"add-host" help:"Add an /etc/hosts line: NAME:IP (IP may be host-gateway)." placeholder:"NAME:IP"`
	GroupAdd    []string `name:"group-add" help:"Add a supplementary group: a name in the image's /etc/group, or a gid." placeholder:"GROUP"`
	Device      []string `help:"Bind a host device (HOST[:CONTAINER][:rwm]), or add a CDI device (VENDOR/CLASS=NAME) from the specs in /etc/cdi, /var/run/cdi and ~/.config/cdi." placeholder:"HOST[:CONTAINER]|CDI-NAME"`
	GPUs        string   `name:"gpus" help:"Add GPUs as NVIDIA's CDI devices (nvidia.com/gpu): all, a count, or device=IDS." placeholder:"all|N|device=IDS"`
	Platform    string   `help:"Platform of the image: only this host's (os/arch[/variant])." placeholder:"OS/ARCH"`
	Pull        string   `help:"Pull the image: missing, always or never." enum:"missing,always,never" default:"missing"`
	Expose      []string `help:"Expose a port or range (published with -P)." placeholder:"PORT[/PROTO]"`
	CIDFile     string   `name:"cidfile" help:"Write the container's ID to a file, which must not exist." placeholder:"FILE"`
	LogDriver   string   `name:"log-driver" help:"Logging driver: json-file or none." enum:"json-file,none" default:"json-file"`
	LogOpt      []string `name:"log-opt" help:"json-file's max-size=SIZE and max-file=N." placeholder:"KEY=VALUE"`
	ShmSize     string   `name:"shm-size" help:"Size of /dev/shm (default 64m)." placeholder:"SIZE"`
	Ulimit      []string `help:"Set a resource limit: NAME=SOFT[:HARD] (-1: unlimited)." placeholder:"NAME=SOFT[:HARD]"`
	PidsLimit   *int64   `name:"pids-limit" help:"Limit the container's processes (-1: unlimited): pids.max in a delegated cgroup v2, and RLIMIT_NPROC in the sandbox."`
	Memory      string   `short:"m" help:"Memory limit: applied only in a delegated cgroup v2." placeholder:"SIZE"`
	CPUs        string   `name:"cpus" help:"CPU limit: applied only in a delegated cgroup v2." placeholder:"N"`
	CpusetCPUs  string   `name:"cpuset-cpus" help:"CPUs the container may use (0-3,5): applied only in a delegated cgroup v2." placeholder:"LIST"`
}

// apply resolves the flags into c; nothing is written.
func (f *DockerFlags) apply(c *sandbox.Config) error {
	steps := []func(*sandbox.Config) error{f.labels, f.stopping, f.hostsAndGroups, f.devices, f.platform,
		f.exposed, f.cidfile, f.logging, f.shm, f.rlimits, f.resources}
	for _, step := range steps {
		if err := step(c); err != nil {
			return err
		}
	}
	c.Init = f.Init
	return nil
}

// labels are --label-file's lines, then -l, later ones winning.
func (f *DockerFlags) labels(c *sandbox.Config) error {
	var all []string
	for _, file := range f.LabelFile {
		lines, err := readLabelFile(file)
		if err != nil {
			return err
		}
		all = append(all, lines...)
	}
	for _, l := range append(all, f.Label...) {
		k, v, _ := strings.Cut(l, "=")
		if k == "" {
			return fmt.Errorf("invalid label %q: write KEY=VALUE", l)
		}
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		c.Labels[k] = v
	}
	return nil
}

func readLabelFile(path string) ([]string, error) {
	lines, err := readListFile("--label-file", path)
	var out []string
	for _, l := range lines {
		out = append(out, l.text)
	}
	return out, err
}

func (f *DockerFlags) stopping(c *sandbox.Config) error {
	if f.StopSignal != "" {
		if _, err := container.ParseSignal(f.StopSignal, 0); err != nil {
			return fmt.Errorf("--stop-signal: %w", err)
		}
		c.StopSignal = f.StopSignal
	}
	if f.StopTimeout != nil && *f.StopTimeout < -1 {
		return fmt.Errorf("invalid --stop-timeout %d: give seconds, or -1 to wait forever", *f.StopTimeout)
	}
	c.StopTimeout = f.StopTimeout
	return nil
}

func (f *DockerFlags) hostsAndGroups(c *sandbox.Config) error {
	for _, h := range f.AddHost {
		e, err := sandbox.ParseAddHost(h, c.Network.Mode)
		if err != nil {
			return err
		}
		c.ExtraHosts = append(c.ExtraHosts, e)
	}
	for _, g := range f.GroupAdd {
		if g == "" || strings.ContainsAny(g, ":\n") {
			return fmt.Errorf("invalid --group-add %q: give a group name or a gid", g)
		}
	}
	if len(f.GroupAdd) > 0 {
		if err := groupsPossible(c); err != nil {
			return err
		}
	}
	c.GroupAdd = f.GroupAdd
	return nil
}

// groupsPossible refuses --group-add where setgroups is denied: with
// keep-id, and in the single-id user namespace (no subordinate range).
func groupsPossible(c *sandbox.Config) error {
	if c.KeepID {
		return fmt.Errorf("--group-add with --userns keep-id: the process keeps your own groups: drop one of them")
	}
	mapping, err := c.Mapping()
	if err == nil && mapping != nil && mapping.Mode == userns.ModeSingle {
		return fmt.Errorf("--group-add: supplementary groups need setgroups, which husk's single-id user namespace denies: ask the admin for a subordinate id range, or drop --group-add")
	}
	return nil
}

// devices are --device's host nodes, and its CDI devices with --gpus's,
// resolved in the CDI specs now (cdi.Apply): the config keeps what they
// edit, not their names.
func (f *DockerFlags) devices(c *sandbox.Config) error {
	var names []string
	for _, d := range f.Device {
		if cdi.IsName(d) {
			names = append(names, d)
			continue
		}
		dev, err := sandbox.ParseDevice(d)
		if err != nil {
			return err
		}
		c.Devices = append(c.Devices, dev)
	}
	if f.GPUs != "" {
		gpus, err := cdi.GPUs(f.GPUs)
		if err != nil {
			return err
		}
		names = append(names, gpus...)
	}
	return cdi.Apply(c, cdi.Dirs(), names)
}

// platform is --platform: a rootless sandbox runs the host's own
// architecture only (no emulation), so any other is refused.
func (f *DockerFlags) platform(*sandbox.Config) error {
	if f.Platform == "" {
		return nil
	}
	want, err := pull.ParsePlatform(f.Platform)
	if err != nil {
		return fmt.Errorf("--platform: %w", err)
	}
	host, _ := pull.ParsePlatform("")
	if want.OS != host.OS || want.Architecture != host.Architecture || (want.Variant != "" && want.Variant != host.Variant) {
		return fmt.Errorf("--platform %s: husk runs only this host's platform, %s: drop --platform or give that one", f.Platform, host.String())
	}
	return nil
}

// exposed are --expose ports, which -P publishes with the image's.
func (f *DockerFlags) exposed(c *sandbox.Config) error {
	for _, e := range f.Expose {
		if _, err := network.ParsePorts([]string{e}); err != nil || strings.Contains(e, ":") {
			return fmt.Errorf("invalid --expose %q: give PORT[/PROTO] or a range such as 8000-8010/tcp", e)
		}
	}
	c.Exposed = append(c.Exposed, f.Expose...)
	return nil
}

// cidfile refuses an existing --cidfile before anything is written, as
// Docker does; writeCIDFile writes it once the container exists.
func (f *DockerFlags) cidfile(*sandbox.Config) error {
	if f.CIDFile == "" {
		return nil
	}
	if _, err := os.Lstat(f.CIDFile); err == nil {
		return fmt.Errorf("container ID file found, make sure the other container isn't running or delete %s", f.CIDFile)
	}
	return nil
}

func (f *DockerFlags) writeCIDFile(id string) error {
	if f.CIDFile == "" {
		return nil
	}
	fh, err := os.OpenFile(f.CIDFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("writing the container ID file: %w: delete it or give another --cidfile", err)
	}
	_, err = fh.WriteString(id)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	return err
}

func (f *DockerFlags) logging(c *sandbox.Config) error {
	c.Log.Driver = f.LogDriver
	for _, o := range f.LogOpt {
		k, v, _ := strings.Cut(o, "=")
		var err error
		switch {
		case f.LogDriver == sandbox.LogNone:
			return fmt.Errorf("--log-opt %q: the none driver takes no options: drop it", o)
		case k == "max-size":
			c.Log.MaxSize, err = units.RAMInBytes(v)
			err = positive(err, c.Log.MaxSize)
		case k == "max-file":
			var n int
			n, err = strconv.Atoi(v)
			c.Log.MaxFile, err = n, positive(err, int64(n))
		default:
			return fmt.Errorf("unknown --log-opt %q: json-file takes max-size=SIZE and max-file=N", o)
		}
		if err != nil {
			return fmt.Errorf("invalid --log-opt %q: give a positive size (10m) or count", o)
		}
	}
	return nil
}

func positive(err error, n int64) error {
	if err == nil && n <= 0 {
		err = fmt.Errorf("not positive")
	}
	return err
}

func (f *DockerFlags) shm(c *sandbox.Config) error {
	if f.ShmSize == "" {
		return nil
	}
	n, err := units.RAMInBytes(f.ShmSize)
	if err != nil || n <= 0 {
		return fmt.Errorf("invalid --shm-size %q: give a size such as 64m or 1g", f.ShmSize)
	}
	c.ShmSize = n
	return nil
}

// rlimits are --ulimit, and --pids-limit as RLIMIT_NPROC as well as a
// pids.max (where a delegated cgroup can hold one, which most hosts do not
// give). An explicit --ulimit nproc= wins over --pids-limit.
func (f *DockerFlags) rlimits(c *sandbox.Config) error {
	var rl []specs.POSIXRlimit
	for _, u := range f.Ulimit {
		r, err := sandbox.ParseUlimit(u)
		if err != nil {
			return err
		}
		rl = append(rl, r)
	}
	if f.PidsLimit != nil {
		if !sandbox.HasRlimit(rl, "RLIMIT_NPROC") {
			rl = append(rl, sandbox.PidsRlimit(*f.PidsLimit))
		}
		resources(c).Pids = &specs.LinuxPids{Limit: f.PidsLimit}
	}
	c.OCI.Process.Rlimits = rl
	return nil
}

// resources are --memory, --cpus and --cpuset-cpus, kept in the config;
// each start puts them in a cgroup of the container's own where a
// delegated cgroup v2 allows (sandbox.PlanCgroup), and elsewhere a
// one-line notice at create says so and the container runs.
func (f *DockerFlags) resources(c *sandbox.Config) error {
	if f.Memory != "" {
		n, err := units.RAMInBytes(f.Memory)
		if err != nil || n <= 0 {
			return fmt.Errorf("invalid --memory %q: give a size such as 512m or 2g", f.Memory)
		}
		resources(c).Memory = &specs.LinuxMemory{Limit: &n}
	}
	if f.CPUs != "" {
		n, err := strconv.ParseFloat(f.CPUs, 64)
		if err != nil || n <= 0 {
			return fmt.Errorf("invalid --cpus %q: give a positive number such as 1.5", f.CPUs)
		}
		period := uint64(100000)
		quota := int64(n * float64(period))
		resources(c).CPU = &specs.LinuxCPU{Quota: &quota, Period: &period}
	}
	if f.CpusetCPUs != "" {
		if err := checkCPUList(f.CpusetCPUs); err != nil {
			return err
		}
		if resources(c).CPU == nil {
			resources(c).CPU = &specs.LinuxCPU{}
		}
		resources(c).CPU.Cpus = f.CpusetCPUs
	}
	return nil
}

// Compiled on first use, not at every start of husk.
var cpuList = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$`) })

// checkCPUList refuses a --cpuset-cpus that is no list of CPUs, or that
// names one husk may not run on, as Docker does.
func checkCPUList(l string) error {
	if !cpuList().MatchString(l) {
		return fmt.Errorf("invalid --cpuset-cpus %q: give CPUs and ranges such as 0-3,5", l)
	}
	var own unix.CPUSet
	if err := unix.SchedGetaffinity(0, &own); err != nil {
		return nil
	}
	for _, r := range strings.Split(l, ",") {
		lo, hi, _ := strings.Cut(r, "-")
		a, _ := strconv.Atoi(lo)
		b := a
		if hi != "" {
			b, _ = strconv.Atoi(hi)
		}
		for n := a; n <= b && n < 1<<16; n++ {
			if !own.IsSet(n) {
				return fmt.Errorf("invalid --cpuset-cpus %q: CPU %d is not one husk may use here (it may use %d): give others", l, n, own.Count())
			}
		}
	}
	return nil
}

func resources(c *sandbox.Config) *specs.LinuxResources {
	if c.OCI.Linux == nil {
		c.OCI.Linux = &specs.Linux{}
	}
	if c.OCI.Linux.Resources == nil {
		c.OCI.Linux.Resources = &specs.LinuxResources{}
	}
	return c.OCI.Linux.Resources
}

// resourceNotice is the one line a run or create prints when the
// container's limits cannot go into a cgroup of its own, with why;
// --pids-limit still holds as RLIMIT_NPROC.
func resourceNotice(c *sandbox.Config) string {
	var r *specs.LinuxResources
	if c.OCI.Linux != nil {
		r = c.OCI.Linux.Resources
	}
	_, err := sandbox.PlanCgroup("", r)
	if err == nil {
		return ""
	}
	var flags []string
	if r.Memory != nil {
		flags = append(flags, "--memory")
	}
	if r.CPU != nil && r.CPU.Quota != nil {
		flags = append(flags, "--cpus")
	}
	if r.CPU != nil && r.CPU.Cpus != "" {
		flags = append(flags, "--cpuset-cpus")
	}
	if r.Pids != nil && r.Pids.Limit != nil && *r.Pids.Limit > 0 {
		flags = append(flags, "--pids-limit (held as RLIMIT_NPROC instead)")
	}
	return "husk: " + strings.Join(flags, ", ") + " not applied: " + err.Error()
}
