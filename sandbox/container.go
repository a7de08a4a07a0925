package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"husk/network"
	"husk/profiles"
)

// RunOptions are the flags of `husk run` that shape the sandbox.
type RunOptions struct {
	Cmd         []string
	Entrypoint  *string // nil: the image's; "" clears it
	Env         []string
	Workdir     string
	User        string
	Hostname    string
	HostNet     bool
	Net         *network.Spec // a network beyond lo; nil: none (or the host's)
	Terminal    bool
	ReadOnly    bool
	KeepID      bool
	NoSetGroups bool
	Volumes     []Op
	Tmpfs       []Op
	Caps        []string // the final set
	Privileged  bool
	NoNewPrivs  bool
	SeccompBPF  []byte
	ID          string
	Scratch     string
	RootOps     []Op
	ExtraHosts  []string // NAME:IP
	GroupAdd    []string
	Rlimits     []Rlimit
	ShmSize     int64
	Devices     []Device
	Hooks       []Hook
	Hold        bool
	// FakeIDs: the seccomp filter fakes id changes (seccomp.FakeIDs), so
	// apt is told not to switch to its _apt user (aptFakeIDs).
	FakeIDs bool
}

// ContainerSpec joins an image's config and the run flags into a Spec, as
// Docker does: the entrypoint and command, the environment, the working
// directory and user, the generated /etc files.
func ContainerSpec(cfg v1.Config, o RunOptions) (*Spec, error) {
	args := commandOf(cfg, o)
	if len(args) == 0 && !o.Hold {
		return nil, fmt.Errorf("no command: the image has no entrypoint or cmd: give one after the image name")
	}
	host := o.Hostname
	if host == "" {
		host = o.ID[:12]
		if o.HostNet {
			host, _ = os.Hostname()
		}
	}
	cwd := o.Workdir
	if cwd == "" {
		cwd = cfg.WorkingDir
	}
	if cwd == "" {
		cwd = "/"
	}
	user := o.User
	if user == "" {
		user = cfg.User
	}
	s := &Spec{
		ID: o.ID, Hostname: host, Args: args, Cwd: cwd, User: user,
		Env:      envOf(cfg.Env, o, host),
		Terminal: o.Terminal, KeepID: o.KeepID, ReadOnly: o.ReadOnly, NoSetGroups: o.NoSetGroups,
		Scratch: o.Scratch, RootOps: o.RootOps,
		Files:      etcFiles(host, o.HostNet, o.Net, o.ExtraHosts),
		GroupAdd:   o.GroupAdd,
		Rlimits:    o.Rlimits,
		ShmSize:    o.ShmSize,
		Net:        o.Net,
		HostSys:    o.HostNet,
		Loopback:   !o.HostNet,
		Caps:       o.Caps,
		NoNewPrivs: o.NoNewPrivs,
		SeccompBPF: o.SeccompBPF,
		Hooks:      o.Hooks,
		Hold:       o.Hold,
	}
	if o.FakeIDs {
		aptFakeIDs(s)
	}
	// Docker makes a missing working directory; volumes and tmpfs follow.
	s.Mounts = append([]Op{{Kind: KindMkdir, Target: cwd}}, o.Volumes...)
	s.Mounts = append(s.Mounts, o.Tmpfs...)
	s.Mounts = append(s.Mounts, deviceOps(o.Devices)...)
	if !o.Privileged {
		s.MaskedPaths, s.ReadonlyPaths = profiles.MaskedPaths, profiles.ReadonlyPaths
	}
	return s, nil
}

// CommandParts are the process's entrypoint and its whole default command
// (with the image's cmd), as the run's options shape them: a command given
// on the command line follows the entrypoint.
func CommandParts(cfg v1.Config, o RunOptions) (entry, dflt []string) {
	o.Cmd = nil
	dflt = commandOf(cfg, o)
	entry = cfg.Entrypoint
	if o.Entrypoint != nil {
		entry = nil
		if *o.Entrypoint != "" {
			entry = []string{*o.Entrypoint}
		}
	}
	return entry, dflt
}

func commandOf(cfg v1.Config, o RunOptions) []string {
	entry := cfg.Entrypoint
	cmd := cfg.Cmd
	if o.Entrypoint != nil {
		// A new entrypoint drops the image's cmd too, as in Docker.
		entry, cmd = nil, nil
		if *o.Entrypoint != "" {
			entry = []string{*o.Entrypoint}
		}
	}
	if len(o.Cmd) > 0 {
		cmd = o.Cmd
	}
	return append(append([]string{}, entry...), cmd...)
}

// envOf is the image's environment, overridden by -e and --env-file, plus
// what Docker adds: HOSTNAME, a PATH when there is none, TERM with -t.
func envOf(image []string, o RunOptions, host string) []string {
	env := map[string]string{}
	var order []string
	set := func(kv string) {
		k, v, _ := strings.Cut(kv, "=")
		if _, ok := env[k]; !ok {
			order = append(order, k)
		}
		env[k] = v
	}
	set("PATH=" + defaultPath)
	set("HOSTNAME=" + host)
	if o.Terminal {
		set("TERM=xterm")
	}
	for _, kv := range image {
		set(kv)
	}
	for _, kv := range o.Env {
		set(kv)
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+env[k])
	}
	return out
}

// aptConfig is a config file apt reads (APT_CONFIG) before its own.
const aptConfig = "/dev/.husk-apt.conf"

// aptFakeIDs: apt fetches as the _apt user, and checks that its switch to
// that user took effect; under the fake-ids filter the switch succeeds
// without effect and apt stops ("Could not switch group"). As Charliecloud
// does, apt is told to fetch as root, here through APT_CONFIG and a file
// on the sandbox's own /dev, so that nothing is written into the image.
// An APT_CONFIG the image or the user set wins.
func aptFakeIDs(s *Spec) {
	for _, kv := range s.Env {
		if strings.HasPrefix(kv, "APT_CONFIG=") {
			return
		}
	}
	s.Env = append(s.Env, "APT_CONFIG="+aptConfig)
	s.Files = append(s.Files, File{Path: aptConfig, Content: "APT::Sandbox::User \"root\";\n"})
}

// etcFiles are /etc/hosts, /etc/hostname and /etc/resolv.conf. With the
// host's network the host's own hosts and resolv.conf serve.
func etcFiles(host string, hostNet bool, n *network.Spec, extra []string) []File {
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.0.1\t" + host + "\n"
	if hostNet {
		if b, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = string(b)
		}
	}
	resolv, _ := os.ReadFile("/etc/resolv.conf")
	if n != nil {
		// The network's own resolver, which forwards to the host's: a host
		// resolver on 127.0.0.53 is out of the sandbox's reach.
		hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
			n.Config.IP.String() + "\t" + host + "\n" + n.Config.Hosts()
		resolv = []byte(n.Config.ResolvConf())
	}
	hosts += hostsLines(extra, n)
	return []File{
		{Path: "/etc/hosts", Content: hosts},
		{Path: "/etc/hostname", Content: host + "\n"},
		{Path: "/etc/resolv.conf", Content: string(resolv)},
	}
}

// NewID is a container ID: 64 hex digits, as Docker's.
func NewID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// OverlayRoot mounts the image's layers (top first) with native overlay in
// the user namespace; the upper layer and work directory are rw/upper and
// rw/work: the init's scratch tmpfs for a throw-away root, the container's
// directory in the store for one that outlives a start.
func OverlayRoot(lower []string, rw string) []Op {
	return []Op{{Kind: KindMount, FSType: "overlay", Source: "overlay", Target: "/", Data: overlayData(lower, rw) + ",userxattr"}}
}

// The kernel takes a mount's options in one page, and stacks at most 500
// layers (OVL_MAX_STACK).
const (
	overlayMaxData  = 4095
	overlayMaxStack = 500
)

// OverlayFits refuses, with the fix, an image whose layers one native
// overlay mount cannot hold; the mount would fail with a bare ENOENT.
func OverlayFits(image string, lower []string, rw string) error {
	if n := len(overlayData(lower, rw) + ",userxattr"); n > overlayMaxData || len(lower) > overlayMaxStack {
		return fmt.Errorf("image %s has %d layers, more than one overlay mount holds here (its options take %d bytes of %d, "+
			"at most %d layers): flatten it (husk create, then husk export | husk import), or use the vfs strategy (--storage-driver vfs)",
			image, len(lower), n, overlayMaxData, overlayMaxStack)
	}
	return nil
}

// FuseOverlayRoot mounts the same with fuse-overlayfs.
func FuseOverlayRoot(prog string, lower []string, rw string) []Op {
	return []Op{{Kind: KindFuseOverlay, Source: prog, Target: "/", Data: overlayData(lower, rw)}}
}

// BindRoot uses a complete tree (vfs) as the root.
func BindRoot(dir string) []Op {
	return []Op{{Kind: KindBind, Source: dir, Target: "/"}}
}

func overlayData(lower []string, scratch string) string {
	return fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(lower, ":"),
		filepath.Join(scratch, "upper"), filepath.Join(scratch, "work"))
}

// VolumeOp is -v HOST:CONTAINER[:ro|rw].
func VolumeOp(spec string) (Op, error) {
	parts := strings.Split(spec, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return Op{}, fmt.Errorf("volume %q: use HOST:CONTAINER[:ro]", spec)
	}
	src, dst := parts[0], parts[1]
	if !filepath.IsAbs(src) {
		return Op{}, fmt.Errorf("bind %q: the host path must be absolute", spec)
	}
	if !filepath.IsAbs(dst) {
		return Op{}, fmt.Errorf("volume %q: the container path %s must be absolute", spec, dst)
	}
	if filepath.Clean(dst) == "/" {
		return Op{}, fmt.Errorf("volume %q: a volume cannot replace the container's root /: mount it below, e.g. %s:/data", spec, src)
	}
	// A missing host path is made a directory, as Docker does for -v.
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(src, 0o755); err != nil {
			return Op{}, fmt.Errorf("volume %q: creating the host path %s: %w: create it yourself or fix the path", spec, src, err)
		}
	} else if err != nil {
		return Op{}, fmt.Errorf("volume %q: the host path %s: %w", spec, src, err)
	}
	op := Op{Kind: KindBind, Source: src, Target: dst}
	if len(parts) == 3 {
		for _, o := range strings.Split(parts[2], ",") {
			switch o {
			case "ro":
				op.Flags = unix.MS_RDONLY
			// z and Z relabel for SELinux, which a user namespace cannot
			// do; rprivate is what every bind here is already.
			case "rw", "z", "Z", "private", "rprivate":
			default:
				return Op{}, fmt.Errorf("volume %q: unknown option %q: use ro, rw, z or Z, comma-separated", spec, o)
			}
		}
	}
	return op, nil
}

// TmpfsOp is --tmpfs PATH[:OPTIONS], Docker's defaults: noexec, nosuid,
// nodev and the options given (size=, mode=).
func TmpfsOp(spec string) (Op, error) {
	path, opts, _ := strings.Cut(spec, ":")
	if !filepath.IsAbs(path) {
		return Op{}, fmt.Errorf("tmpfs %q: the path must be absolute", spec)
	}
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	var data []string
	for _, o := range strings.Split(opts, ",") {
		switch o {
		case "":
		case "exec":
			flags &^= unix.MS_NOEXEC
		case "noexec", "nosuid", "nodev", "rw":
		case "ro":
			flags |= unix.MS_RDONLY
		default:
			if !strings.HasPrefix(o, "size=") && !strings.HasPrefix(o, "mode=") {
				return Op{}, fmt.Errorf("tmpfs %q: unknown option %q: use size=, mode=, ro, exec", spec, o)
			}
			data = append(data, o)
		}
	}
	return Op{Kind: KindMount, FSType: "tmpfs", Source: "tmpfs", Target: path, Flags: flags, Data: strings.Join(data, ",")}, nil
}

// defaultPath is the PATH of a container whose image sets none, as Docker's.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
