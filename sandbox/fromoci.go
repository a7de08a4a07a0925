package sandbox

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"husk/seccomp"
)

// OCISpec is a spec from an OCI bundle's config.json (husk oci): what the
// executor runs, and the namespaces beyond its usual ones.
type OCISpec struct {
	*Spec
	NewNet     bool
	Cloneflags uintptr
	// NetNS is a network namespace to join (CSpec.NetNS).
	NetNS string
}

// standardMounts are the destinations every sandbox mounts itself
// (standardOps): a bundle's own mounts there are its request for the same.
var standardMounts = []string{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"}

// standardDevices are the nodes every sandbox binds from the host.
var standardDevices = []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"}

// FromOCI turns a bundle's runtime spec into the executor's spec: the
// root is the bundle's rootfs (an absolute path), scratch the init's
// scratch directory; single is the single-uid mapping (no setgroups).
// What husk cannot do is refused in one line, naming the field.
// root says husk runs as root (in a caller's user namespace, as under
// rootless podman), where it joins no user namespace of its own and so
// may join the caller's network namespace.
func FromOCI(o *specs.Spec, rootfs, scratch, id string, single, root bool) (*OCISpec, error) {
	p := o.Process
	if p == nil || len(p.Args) == 0 {
		return nil, fmt.Errorf("the bundle's config.json has no process.args: give the command to run")
	}
	if err := refuseOCI(o); err != nil {
		return nil, err
	}
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	s := &Spec{
		ID: id, Hostname: o.Hostname, Args: p.Args, Env: p.Env, Cwd: cwd,
		User:     fmt.Sprintf("%d:%d", p.User.UID, p.User.GID),
		Terminal: p.Terminal, NoNewPrivs: p.NoNewPrivileges, NoSetGroups: single,
		Scratch: scratch, RootOps: BindRoot(rootfs),
		ReadOnly: o.Root != nil && o.Root.Readonly,
	}
	if p.User.Username != "" {
		s.User = p.User.Username
	}
	for _, g := range p.User.AdditionalGids {
		if g != p.User.GID {
			s.GroupAdd = append(s.GroupAdd, strconv.Itoa(int(g)))
		}
	}
	if single && len(s.GroupAdd) > 0 {
		return nil, fmt.Errorf("process.user.additionalGids %v: the single-uid mapping (no /etc/subuid range) forbids setgroups: remove them or add a range", s.GroupAdd)
	}
	var err error
	if s.Rlimits, err = rlimitsOf(p.Rlimits); err != nil {
		return nil, err
	}
	if p.Capabilities != nil {
		s.Caps = p.Capabilities.Bounding
	}
	out := &OCISpec{Spec: s}
	if err := out.namespaces(o, root); err != nil {
		return nil, err
	}
	if err := out.mounts(o.Mounts); err != nil {
		return nil, err
	}
	if o.Linux != nil {
		if s.Sysctls, err = sysctlsOf(o.Linux.Sysctl, out.NewNet || out.NetNS != ""); err != nil {
			return nil, err
		}
	}
	if l := o.Linux; l != nil {
		s.MaskedPaths, s.ReadonlyPaths = l.MaskedPaths, l.ReadonlyPaths
		s.Mounts = append(s.Mounts, devicesOf(l.Devices)...)
		if l.Seccomp != nil {
			if s.SeccompBPF, err = seccomp.CompileBPF(l.Seccomp); err != nil {
				return nil, fmt.Errorf("linux.seccomp: %w", err)
			}
		}
	}
	if o.Hooks != nil {
		s.Hooks = append(hooksOf(HookCreateContainer, o.Hooks.CreateContainer), hooksOf(HookStartContainer, o.Hooks.StartContainer)...)
	}
	return out, nil
}

// refuseOCI names the first thing in o that husk cannot do rootless.
func refuseOCI(o *specs.Spec) error {
	if o.Hooks != nil {
		h := o.Hooks
		for name, n := range map[string]int{"prestart": len(h.Prestart), "createRuntime": len(h.CreateRuntime), "poststart": len(h.Poststart), "poststop": len(h.Poststop)} { //nolint:staticcheck // Prestart is deprecated, still refused
			if n > 0 {
				return fmt.Errorf("hooks.%s: husk runs only createContainer and startContainer hooks (the others run as root in the runtime's namespace): remove them", name)
			}
		}
	}
	l := o.Linux
	if l == nil {
		return nil
	}
	switch {
	case l.IntelRdt != nil:
		return fmt.Errorf("linux.intelRdt: not supported rootless: remove it")
	case l.MountLabel != "" || (o.Process != nil && o.Process.SelinuxLabel != ""):
		return fmt.Errorf("SELinux labels: a user namespace cannot set them: remove mountLabel and process.selinuxLabel")
	}
	return nil
}

// namespaces checks the bundle's namespaces against husk's: pid, mount,
// ipc and uts always new; network new or the host's; cgroup new on request;
// user: husk's own mapping, whatever the bundle maps.
func (out *OCISpec) namespaces(o *specs.Spec, root bool) error {
	have := map[specs.LinuxNamespaceType]bool{}
	if o.Linux != nil {
		for _, ns := range o.Linux.Namespaces {
			switch {
			case ns.Path == "":
				have[ns.Type] = true
			case ns.Type == specs.NetworkNamespace && root:
				out.NetNS = ns.Path
			case ns.Type == specs.NetworkNamespace:
				return fmt.Errorf("linux.namespaces: joining the network namespace %s needs husk to run as root in that namespace's user namespace (as under rootless podman); its own user namespace cannot: omit the path", ns.Path)
			default:
				return fmt.Errorf("linux.namespaces: joining the %s namespace %s is not supported: let husk make a new one (no path)", ns.Type, ns.Path)
			}
		}
	}
	for _, t := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.MountNamespace} {
		if !have[t] {
			return fmt.Errorf("linux.namespaces: husk always gives a container its own %s namespace: add {\"type\": %q}", t, t)
		}
	}
	out.NewNet = have[specs.NetworkNamespace]
	own := out.NewNet || out.NetNS != ""
	out.HostSys, out.Loopback = !own, own
	if have[specs.CgroupNamespace] {
		out.Cloneflags |= unix.CLONE_NEWCGROUP
	}
	return nil
}

// mounts are the bundle's mounts beyond the standard ones, which the
// executor makes itself; cgroup filesystems are left out (a rootless
// container has no cgroup of its own to mount here).
func (out *OCISpec) mounts(ms []specs.Mount) error {
	for _, m := range ms {
		dst := filepath.Clean(m.Destination)
		if !filepath.IsAbs(dst) {
			return fmt.Errorf("mounts: destination %q must be absolute", m.Destination)
		}
		if slices.Contains(standardMounts, dst) || m.Type == "cgroup" || m.Type == "cgroup2" {
			if dst == "/dev/shm" {
				out.ShmSize = shmSizeOf(m.Options)
			}
			continue
		}
		if slices.Contains(m.Options, "bind") || slices.Contains(m.Options, "rbind") {
			m.Type = "bind"
		}
		op := OpOf(m)
		op.Target = dst
		op.Data = dropPropagation(op.Data, op.Kind)
		out.Mounts = append(out.Mounts, op)
	}
	return nil
}

// dropPropagation removes the options a bind takes as flags or has
// already (every bind here is private), which are not filesystem data.
func dropPropagation(data string, kind Kind) string {
	var keep []string
	for _, o := range strings.Split(data, ",") {
		switch o {
		case "", "rw", "bind", "private", "rprivate", "slave", "rslave", "shared", "rshared", "z", "Z":
		default:
			if kind != KindBind {
				keep = append(keep, o)
			}
		}
	}
	return strings.Join(keep, ",")
}

func shmSizeOf(opts []string) int64 {
	for _, o := range opts {
		if v, ok := strings.CutPrefix(o, "size="); ok {
			if n, err := strconv.ParseInt(strings.TrimSuffix(v, "k"), 10, 64); err == nil {
				if strings.HasSuffix(v, "k") {
					n *= 1024
				}
				return n
			}
		}
	}
	return 0
}

// devicesOf binds the host's node for each device beyond the standard
// ones: a user namespace may not mknod.
func devicesOf(ds []specs.LinuxDevice) []Op {
	var ops []Op
	for _, d := range ds {
		if !slices.Contains(standardDevices, d.Path) {
			ops = append(ops, Op{Kind: KindBindDev, Source: d.Path, Target: d.Path})
		}
	}
	return ops
}

func hooksOf(when string, hs []specs.Hook) []Hook {
	var out []Hook
	for _, h := range hs {
		t := 0
		if h.Timeout != nil {
			t = *h.Timeout
		}
		out = append(out, Hook{When: when, Path: h.Path, Args: h.Args, Env: h.Env, Timeout: t})
	}
	return out
}

// namespacedSysctls are the prefixes of the sysctls a container's own
// namespaces hold (runc's list): the others are the host's.
var namespacedSysctls = []string{"net.", "kernel.shm", "kernel.msg", "kernel.sem", "fs.mqueue."}

// Compiled on first use, not at every start of husk.
var sysctlKey = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9_]+(\.[a-zA-Z0-9_-]+)+$`) })

// sysctlsOf checks a bundle's sysctls: only namespaced ones, net.* only
// with a network namespace of the container's own.
func sysctlsOf(m map[string]string, newNet bool) ([]string, error) {
	var out []string
	for k, v := range m {
		ok := sysctlKey().MatchString(k) && slices.ContainsFunc(namespacedSysctls, func(p string) bool { return strings.HasPrefix(k, p) })
		if !ok {
			return nil, fmt.Errorf("linux.sysctl %s: not a sysctl of the container's own namespaces (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*): remove it", k)
		}
		if strings.HasPrefix(k, "net.") && !newNet {
			return nil, fmt.Errorf("linux.sysctl %s: the container shares the host's network: give it a network namespace, or remove the sysctl", k)
		}
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out, nil
}
