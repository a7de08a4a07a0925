package cli

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"

	"husk/profiles"
	"husk/sandbox"
	"husk/seccomp"
	"husk/userns"
)

// SandboxFlags are the flags that shape a sandbox, shared by the verbs
// that make one (run now; create later).
type SandboxFlags struct {
	Interactive bool     `short:"i" help:"Keep standard input open."`
	TTY         bool     `short:"t" name:"tty" help:"Allocate a pseudo-terminal."`
	Env         []string `short:"e" help:"Set an environment variable (KEY=VALUE, or KEY to pass the host's)." placeholder:"KEY=VALUE"`
	EnvFile     []string `name:"env-file" help:"Read environment variables from a file." placeholder:"FILE" type:"existingfile"`
	Workdir     string   `short:"w" help:"Working directory inside the container."`
	User        string   `short:"u" help:"User (name or uid, with an optional :group)." placeholder:"USER[:GROUP]"`
	Entrypoint  *string  `help:"Override the image's entrypoint."`
	Volume      []string `short:"v" help:"Bind a host path: HOST:CONTAINER[:ro]." placeholder:"HOST:CONTAINER[:ro]"`
	Tmpfs       []string `help:"Mount a tmpfs: PATH[:OPTIONS]." placeholder:"PATH[:OPTIONS]"`
	Userns      string   `help:"keep-id: your own uid and gid inside, as Apptainer does." enum:",keep-id" default:""`
	Hostname    string   `short:"h" help:"Container host name (default: a short container ID)."`
	Network     string   `help:"Network: builtin (the default: husk's own userspace network), slirp4netns, pasta, none or host; MODE:allow_host_loopback=true lets host.husk.internal reach the host's loopback; MODE:port_handler=direct gives a published TCP port's host socket to the server that binds it: loopback speed and the clients' own addresses, but that server can then reach what you reach from the host." placeholder:"MODE[:OPTIONS]"`
	Publish     []string `short:"p" help:"Publish a port: [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/udp], ranges allowed." placeholder:"PORTS"`
	PublishAll  bool     `short:"P" name:"publish-all" help:"Publish the image's exposed ports on free host ports."`
	DNS         []string `name:"dns" help:"DNS server the network's resolver forwards to (default: the host's)." placeholder:"IP[:PORT]"`
	SecurityOpt []string `name:"security-opt" help:"seccomp=FILE, seccomp=unconfined, no-new-privileges."`
	CapAdd      []string `name:"cap-add" help:"Add a capability (inside the user namespace)."`
	CapDrop     []string `name:"cap-drop" help:"Drop a capability."`
	Privileged  bool     `help:"All capabilities and no seccomp, inside the user namespace."`
	ReadOnly    bool     `name:"read-only" help:"Mount the root filesystem read-only."`
}

// checkFor finds bad input before any namespace or mount exists. A
// detached sandbox's terminal is its monitor's pty, so the caller's stdin
// need not be one.
func (f *SandboxFlags) checkFor(detached bool) error {
	if _, err := f.netSpec(); err != nil {
		return err
	}
	if f.Network == "host" && f.Hostname != "" {
		return fmt.Errorf("conflicting options: --hostname and --network host (the host's name is used): drop one")
	}
	if !detached && f.TTY && f.Interactive && !term.IsTerminal(int(os.Stdin.Fd())) {
		return fmt.Errorf("the input device is not a TTY: drop -t, or run husk from a terminal")
	}
	for _, v := range f.Volume {
		if _, err := sandbox.VolumeOp(v); err != nil {
			return err
		}
	}
	for _, t := range f.Tmpfs {
		if _, err := sandbox.TmpfsOp(t); err != nil {
			return err
		}
	}
	caps, err := f.caps()
	if err != nil {
		return err
	}
	// A profile file is compiled here too, so a bad one fails before any
	// namespace exists.
	if profile, _, err := f.securityOpts(); err != nil {
		return err
	} else if profile != "default" && profile != "unconfined" {
		if _, err := f.seccompFilter(caps, ""); err != nil {
			return err
		}
	}
	_, err = f.env()
	return err
}

// caps is Docker's default set with --cap-add and --cap-drop applied, or
// every capability with --privileged.
func (f *SandboxFlags) caps() ([]string, error) {
	if f.Privileged {
		all, _ := sandbox.ParseCaps([]string{"ALL"})
		return sandbox.CapNames(all), nil
	}
	drop, err := sandbox.ParseCaps(f.CapDrop)
	if err != nil {
		return nil, fmt.Errorf("--cap-drop: %w", err)
	}
	add, err := sandbox.ParseCaps(f.CapAdd)
	if err != nil {
		return nil, fmt.Errorf("--cap-add: %w", err)
	}
	base, _ := sandbox.ParseCaps(profiles.DefaultCaps)
	dropped := map[string]bool{}
	for _, n := range sandbox.CapNames(drop) {
		dropped[n] = true
	}
	out := []string{}
	for _, n := range sandbox.CapNames(base) {
		if !dropped[n] {
			out = append(out, n)
		}
	}
	for _, n := range sandbox.CapNames(add) {
		if !contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// securityOpts reads --security-opt: the seccomp profile ("default",
// "unconfined" or a file) and no-new-privileges.
func (f *SandboxFlags) securityOpts() (profile string, nnp bool, err error) {
	profile = "default"
	for _, o := range f.SecurityOpt {
		// Docker takes KEY=VALUE and the older KEY:VALUE alike.
		k, v, _ := strings.Cut(o, "=")
		if !strings.Contains(o, "=") {
			k, v, _ = strings.Cut(o, ":")
		}
		switch {
		case k == "seccomp" && v != "":
			profile = v
		case k == "no-new-privileges" && (v == "" || v == "true"):
			nnp = true
		case k == "no-new-privileges" && v == "false":
		// husk applies no SELinux label and no AppArmor profile, so turning
		// them off asks nothing of it.
		case k == "label" && v == "disable", k == "apparmor" && v == "unconfined":
		default:
			return "", false, fmt.Errorf("unknown --security-opt %q: use seccomp=FILE, seccomp=unconfined, no-new-privileges[=true|false], label=disable or apparmor=unconfined", o)
		}
	}
	if f.Privileged {
		profile = "unconfined"
	}
	return profile, nnp, nil
}

// seccompFilter is the BPF for caps (nil when unconfined). Docker's profile
// depends on the capabilities; cache "" compiles without the cache.
func (f *SandboxFlags) seccompFilter(caps []string, cache string) ([]byte, error) {
	profile, _, err := f.securityOpts()
	if err != nil || profile == "unconfined" {
		return nil, err
	}
	p, err := seccomp.Default(caps)
	if profile != "default" {
		p, err = seccomp.FromFile(profile, caps)
	}
	if err != nil {
		return nil, err
	}
	var bpf []byte
	if cache == "" {
		bpf, err = seccomp.CompileBPF(p)
	} else {
		bpf, err = seccomp.CachedBPF(p, cache)
	}
	if err != nil && profile != "default" {
		return nil, fmt.Errorf("seccomp profile %s: %w: fix the profile or use seccomp=unconfined", profile, err)
	}
	return bpf, err
}

// env is -e and --env-file, in order; KEY alone takes the host's value.
func (f *SandboxFlags) env() ([]string, error) {
	var out []string
	for _, file := range f.EnvFile {
		lines, err := readEnvFile(file)
		if err != nil {
			return nil, err
		}
		out = append(out, lines...)
	}
	for _, e := range f.Env {
		out = append(out, expandEnv(e)...)
	}
	return out, nil
}

func readEnvFile(path string) ([]string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--env-file %s: %w", path, err)
	}
	defer fh.Close()
	var out []string
	sc := bufio.NewScanner(fh)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "=") {
			return nil, fmt.Errorf("--env-file %s line %d: no variable name before '=': write KEY=VALUE", path, n)
		}
		out = append(out, expandEnv(line)...)
	}
	return out, sc.Err()
}

// expandEnv: KEY=VALUE as is; KEY alone takes the host's value, or nothing
// when the host has none (Docker's rule).
func expandEnv(e string) []string {
	if strings.Contains(e, "=") {
		return []string{e}
	}
	if v, ok := os.LookupEnv(e); ok {
		return []string{e + "=" + v}
	}
	return nil
}

// runOptions turns the flags into the sandbox's options.
// single: husk's user namespace has the single mapping.
func (f *SandboxFlags) runOptions(cmd []string, runroot, scratch string, rootOps []sandbox.Op, single bool) (sandbox.RunOptions, error) {
	o := sandbox.RunOptions{
		Cmd: cmd, Entrypoint: f.Entrypoint, Workdir: f.Workdir, User: f.User,
		Hostname: f.Hostname, HostNet: f.Network == "host", Terminal: f.TTY,
		ReadOnly: f.ReadOnly, KeepID: f.Userns == "keep-id", Privileged: f.Privileged,
		ID: sandbox.NewID(), Scratch: scratch, RootOps: rootOps,
		// The single mapping forbids setgroups(2) in the namespace.
		NoSetGroups: single,
	}
	var err error
	if o.Net, err = f.netSpec(); err != nil {
		return o, err
	}
	if o.Env, err = f.env(); err != nil {
		return o, err
	}
	for _, v := range f.Volume {
		op, err := sandbox.VolumeOp(v)
		if err != nil {
			return o, err
		}
		o.Volumes = append(o.Volumes, op)
	}
	for _, t := range f.Tmpfs {
		op, _ := sandbox.TmpfsOp(t)
		o.Tmpfs = append(o.Tmpfs, op)
	}
	if o.Caps, err = f.caps(); err != nil {
		return o, err
	}
	if _, o.NoNewPrivs, err = f.securityOpts(); err != nil {
		return o, err
	}
	o.SeccompBPF, err = f.seccompFilter(o.Caps, filepath.Join(runroot, "seccomp"))
	return o, err
}

// launchOptions: the network namespace, standard input, the terminal.
func (f *SandboxFlags) launchOptions() sandbox.Options {
	o := sandbox.Options{NewNet: f.Network != "host", Terminal: f.TTY}
	if f.Interactive {
		o.Stdin = os.Stdin
	}
	return o
}

// plan is the ID mapping of the sandbox's user namespace: husk's usual one,
// or with keep-id the user's own uid and gid mapped to themselves.
func (f *SandboxFlags) plan() (*userns.Plan, error) {
	if f.Userns == "keep-id" {
		return keepID(), nil
	}
	if os.Geteuid() == 0 {
		return nil, nil
	}
	return userns.Detect()
}

// keepID maps only the user's own ids, to themselves (Apptainer's way):
// files of the store's root appear as the user's.
func keepID() *userns.Plan {
	uid, gid := os.Getuid(), os.Getgid()
	return &userns.Plan{Mode: userns.ModeKeepID, UID: uid, GID: gid,
		UIDMap: []userns.IDMap{{ContainerID: uid, HostID: uid, Size: 1}},
		GIDMap: []userns.IDMap{{ContainerID: gid, HostID: gid, Size: 1}}}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
