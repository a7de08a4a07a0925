package cli

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"husk/profiles"
	"husk/sandbox"
)

// SandboxFlags are the flags that shape a sandbox, shared by run and
// create, which resolve them once into the container's config (config.go).
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
	Network     string   `aliases:"net" help:"Network: builtin (the default: husk's own userspace network), slirp4netns, pasta, none or host; MODE:allow_host_loopback=true lets host.husk.internal reach the host's loopback; MODE:port_handler=direct gives a published TCP port's host socket to the server that binds it: loopback speed and the clients' own addresses, but that server can then reach what you reach from the host." placeholder:"MODE[:OPTIONS]"`
	Publish     []string `short:"p" help:"Publish a port: [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/udp], ranges allowed." placeholder:"PORTS"`
	PublishAll  bool     `short:"P" name:"publish-all" help:"Publish the image's exposed ports on free host ports."`
	DNS         []string `name:"dns" help:"DNS server the network's resolver forwards to (default: the host's)." placeholder:"IP[:PORT]"`
	SecurityOpt []string `name:"security-opt" help:"seccomp=FILE, seccomp=unconfined, no-new-privileges, fake-ids=false (without subuid ranges: let id changes and chowns fail)."`
	CapAdd      []string `name:"cap-add" help:"Add a capability (inside the user namespace)."`
	CapDrop     []string `name:"cap-drop" help:"Drop a capability."`
	Privileged  bool     `help:"All capabilities and no seccomp, inside the user namespace."`
	ReadOnly    bool     `name:"read-only" help:"Mount the root filesystem read-only."`
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
		case k == "fake-ids": // read by fakeIDs
			if _, err := parseFakeIDs(v); err != nil {
				return "", false, err
			}
		// husk applies no SELinux label and no AppArmor profile, so turning
		// them off asks nothing of it.
		case k == "label" && v == "disable", k == "apparmor" && v == "unconfined":
		default:
			return "", false, fmt.Errorf("unknown --security-opt %q: use seccomp=FILE, seccomp=unconfined, no-new-privileges[=true|false], fake-ids=true|false, label=disable or apparmor=unconfined", o)
		}
	}
	if f.Privileged {
		profile = "unconfined"
	}
	return profile, nnp, nil
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
