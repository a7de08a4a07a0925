package sandbox

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func ociTestSpec() *specs.Spec {
	return &specs.Spec{
		Process: &specs.Process{Args: []string{"true"}, User: specs.User{UID: 1000, GID: 1000}},
		Root:    &specs.Root{Path: "rootfs", Readonly: true},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup"},
			{Destination: "/data", Type: "bind", Source: "/srv", Options: []string{"rbind", "ro", "rprivate"}},
		},
		Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: "pid"}, {Type: "mount"}, {Type: "network"}},
			Sysctl: map[string]string{"net.ipv4.ping_group_range": "0 0"}},
	}
}

func TestFromOCIMaps(t *testing.T) {
	s, err := FromOCI(ociTestSpec(), "/b/rootfs", "/scratch", "c1", false, false)
	if err != nil {
		t.Fatal(err)
	}
	if s.User != "1000:1000" || s.Cwd != "/" || !s.ReadOnly || !s.NewNet || s.HostSys || !s.Loopback {
		t.Errorf("process, root and network: %+v", s.Spec)
	}
	if len(s.Mounts) != 1 || s.Mounts[0].Kind != KindBind || s.Mounts[0].Target != "/data" || s.Mounts[0].Data != "" || s.Mounts[0].Flags == 0 {
		t.Errorf("want only the bind of /srv, read-only, standard and cgroup mounts left to husk: %+v", s.Mounts)
	}
	if len(s.Sysctls) != 1 || s.Sysctls[0] != "net.ipv4.ping_group_range=0 0" {
		t.Errorf("sysctls: %v", s.Sysctls)
	}
}

func TestFromOCIRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		edit func(*specs.Spec)
		root bool
		want string
	}{
		"host sysctl":             {func(o *specs.Spec) { o.Linux.Sysctl = map[string]string{"kernel.panic": "1"} }, false, "kernel.panic"},
		"net sysctl no netns":     {func(o *specs.Spec) { o.Linux.Namespaces = o.Linux.Namespaces[:2] }, false, "host's network"},
		"no pid namespace":        {func(o *specs.Spec) { o.Linux.Namespaces = o.Linux.Namespaces[1:] }, false, "pid namespace"},
		"netns path unprivileged": {func(o *specs.Spec) { o.Linux.Namespaces[2].Path = "/run/netns/x" }, false, "run as root"},
		"ipc path":                {func(o *specs.Spec) { o.Linux.Namespaces[0] = specs.LinuxNamespace{Type: "ipc", Path: "/x"} }, true, "ipc namespace"},
		"prestart hook":           {func(o *specs.Spec) { o.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "/x"}}} }, false, "poststop"},
		"groups single":           {func(o *specs.Spec) { o.Process.User.AdditionalGids = []uint32{5} }, false, "setgroups"},
		"no args":                 {func(o *specs.Spec) { o.Process.Args = nil }, false, "process.args"},
	} {
		o := ociTestSpec()
		tc.edit(o)
		_, err := FromOCI(o, "/b/rootfs", "/scratch", "c1", true, tc.root)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want an error naming %q, got %v", name, tc.want, err)
		}
	}
	o := ociTestSpec()
	o.Linux.Namespaces[2].Path = "/run/netns/x"
	if s, err := FromOCI(o, "/b/rootfs", "/scratch", "c1", false, true); err != nil || s.NetNS != "/run/netns/x" || s.NewNet {
		t.Errorf("as root, a network namespace's path is joined: %v %+v", err, s)
	}
}
