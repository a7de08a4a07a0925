package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"husk/sandbox"
)

// The flags resolve once: -e KEY and --env-file are read now, and the
// config keeps the values, whatever the environment and file say later.
func TestConfigReadsEnvOnce(t *testing.T) {
	t.Setenv("FOO", "from-env")
	file := filepath.Join(t.TempDir(), "env")
	os.WriteFile(file, []byte("# comment\nBAR=from-file\nLIST=a,b\n"), 0o600)
	f := &ContainerFlags{SandboxFlags: SandboxFlags{Env: []string{"FOO", "BAZ=x", "UNSET_HUSK_TEST"}, EnvFile: []string{file}}, Restart: "no"}
	c, err := f.config("busybox", []string{"env"}, true)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"BAR=from-file", "LIST=a,b", "FOO=from-env", "BAZ=x"}
	if !reflect.DeepEqual(c.OCI.Process.Env, want) {
		t.Errorf("env %q, want %q", c.OCI.Process.Env, want)
	}
	os.Setenv("FOO", "changed")
	os.WriteFile(file, []byte("BAR=changed\n"), 0o600)
	o, err := c.RunOptions(sandbox.NewID(), "", false)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o.Env, want) {
		t.Errorf("after the environment and file changed: %q, want %q", o.Env, want)
	}
}

func TestConfigShape(t *testing.T) {
	dir := t.TempDir()
	f := &ContainerFlags{SandboxFlags: SandboxFlags{
		Volume: []string{dir + ":/data:ro"}, Tmpfs: []string{"/run:size=1m"}, Publish: []string{"127.0.0.1:8080:80"},
		Network: "builtin:port_handler=direct", DNS: []string{"10.0.0.1"}, CapDrop: []string{"CHOWN"}, User: "nobody",
		SecurityOpt: []string{"seccomp=unconfined", "no-new-privileges"}, ReadOnly: true,
	}, Restart: "on-failure:3"}
	c, err := f.config("busybox", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	p := c.OCI.Process
	switch {
	case len(c.OCI.Mounts) != 2 || c.OCI.Mounts[0].Source != dir || c.OCI.Mounts[0].Destination != "/data":
		t.Errorf("mounts %+v", c.OCI.Mounts)
	case len(c.Ports) != 1 || c.Ports[0].HostPort != 8080 || c.Ports[0].ContainerPort != 80:
		t.Errorf("ports %+v", c.Ports)
	case !c.Network.DirectPorts || c.Network.DNS[0] != "10.0.0.1:53":
		t.Errorf("network %+v", c.Network)
	case strings.Contains(strings.Join(p.Capabilities.Bounding, " "), "CAP_CHOWN") || !p.NoNewPrivileges:
		t.Errorf("process %+v", p)
	case c.Seccomp != sandbox.SeccompUnconfined || c.User != "nobody" || !c.OCI.Root.Readonly:
		t.Errorf("config %+v", c)
	case c.Restart != (sandbox.RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}):
		t.Errorf("restart %+v", c.Restart)
	}
}

// Flags whose meaning is checked are refused at create, with the fix.
func TestConfigRefusesBadFlags(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "profile.json")
	os.WriteFile(bad, []byte("{not json"), 0o600)
	for _, f := range []SandboxFlags{
		{Volume: []string{dir + ":/"}},
		{Volume: []string{"relative:/x"}},
		{Publish: []string{"99999:80"}},
		{SecurityOpt: []string{"seccomp=" + bad}},
		{Tmpfs: []string{"/t:bogus"}},
		{DNS: []string{"not-an-ip"}},
		{Network: "host", Publish: []string{"80"}},
	} {
		cf := &ContainerFlags{SandboxFlags: f, Restart: "no"}
		if _, err := cf.config("busybox", nil, true); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: want one line of refusal, got %v", f, err)
		}
	}
}
