package sandbox

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"husk/network"
)

func sampleConfig(t *testing.T) *Config {
	vol, err := VolumeOp(t.TempDir() + ":/data:ro")
	if err != nil {
		t.Fatal(err)
	}
	tmp, err := TmpfsOp("/run:size=1m,exec")
	if err != nil {
		t.Fatal(err)
	}
	ep := ""
	return &Config{
		Version: ConfigVersion,
		OCI: specs.Spec{
			Process: &specs.Process{Args: []string{"sh", "-c", "env"}, Env: []string{"A=1", "B=x,y"}, Cwd: "/w", Terminal: true,
				NoNewPrivileges: true, Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN"}}},
			Hostname: "h", Mounts: []specs.Mount{MountOf(vol), MountOf(tmp)}, Root: &specs.Root{Readonly: true},
			Linux: &specs.Linux{Seccomp: &specs.LinuxSeccomp{DefaultAction: specs.ActAllow}},
		},
		Image: "busybox", ImageID: "abc", Entrypoint: &ep, User: "1:2", Seccomp: SeccompProfile, KeepID: true,
		Network:    NetworkConfig{Mode: "builtin", AllowHostLoopback: true, DirectPorts: true, DNS: []string{"10.0.0.1:53"}},
		Ports:      []network.Port{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 8080, ContainerPort: 80, Proto: "tcp"}, {ContainerPort: 53, Proto: "udp"}},
		PublishAll: true, Exposed: []string{"80/tcp"}, Interactive: true, AutoRemove: true,
		Restart: RestartPolicy{Name: "on-failure", MaximumRetryCount: 3}, StopSignal: "SIGQUIT",
	}
}

// A config written at create reads back equal.
func TestConfigRoundTrip(t *testing.T) {
	c := sampleConfig(t)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("read back:\n%+v\nwant\n%+v", got, c)
	}
}

// A config of another version, or none, is refused with the fix.
func TestConfigVersion(t *testing.T) {
	for _, doc := range []string{`{"version":2,"image":"x"}`, `{"image":"x"}`, `not json`} {
		_, err := DecodeConfig([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), "create it again") {
			t.Errorf("DecodeConfig(%s): want a refusal that says to re-create, got %v", doc, err)
		}
	}
}

// The mounts kept in OCI form give back the Ops the flags made.
func TestMountOps(t *testing.T) {
	for _, spec := range []string{"/t:size=1m,exec", "/t:ro,mode=1777", "/t"} {
		op, _ := TmpfsOp(spec)
		if got := OpOf(MountOf(op)); !reflect.DeepEqual(got, op) {
			t.Errorf("tmpfs %s: %+v, want %+v", spec, got, op)
		}
	}
	op, _ := VolumeOp(t.TempDir() + ":/d:ro")
	if got := OpOf(MountOf(op)); !reflect.DeepEqual(got, op) || got.Flags&unix.MS_RDONLY == 0 {
		t.Errorf("volume: %+v, want %+v", got, op)
	}
}

// The options of a start come from the config alone.
func TestConfigRunOptions(t *testing.T) {
	c := sampleConfig(t)
	c.Seccomp = SeccompUnconfined
	o, err := c.RunOptions("id", "", false)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o.Cmd, []string{"sh", "-c", "env"}) || o.User != "1:2" || !o.Terminal || !o.ReadOnly || !o.KeepID ||
		len(o.Volumes) != 1 || len(o.Tmpfs) != 1 || o.Net == nil || !o.Net.DirectPorts || o.SeccompBPF != nil {
		t.Errorf("RunOptions: %+v", o)
	}
	ports, err := c.PublishedPorts()
	if err != nil || len(ports) != 3 {
		t.Errorf("published ports with -P: %v %v", ports, err)
	}
}
