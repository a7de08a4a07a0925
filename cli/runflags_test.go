package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func dockerFlags() DockerFlags { return DockerFlags{Pull: "missing", LogDriver: "json-file"} }

// Docker's further flags resolve into the config, once.
func TestDockerFlagsConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "labels")
	os.WriteFile(file, []byte("# c\nb=file\nc=d\n"), 0o600)
	timeout := 3
	d := dockerFlags()
	d.Label, d.LabelFile, d.StopSignal, d.StopTimeout = []string{"a=x,y", "b=flag"}, []string{file}, "USR1", &timeout
	d.AddHost, d.Expose, d.ShmSize, d.Ulimit = []string{"db:10.1.2.3"}, []string{"7000"}, "128m", []string{"nofile=10:20"}
	d.LogOpt = []string{"max-size=1k", "max-file=3"}
	f := &ContainerFlags{Restart: "no", DockerFlags: d}
	c, err := f.config("busybox", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"a": "x,y", "b": "flag", "c": "d"}; !reflect.DeepEqual(c.Labels, want) {
		t.Errorf("labels %v, want %v", c.Labels, want)
	}
	if c.StopSignal != "USR1" || *c.StopTimeout != 3 || c.ShmSize != 128<<20 || c.Log.MaxSize != 1024 || c.Log.MaxFile != 3 {
		t.Errorf("config %+v", c)
	}
	if !reflect.DeepEqual(c.ExtraHosts, []string{"db:10.1.2.3"}) || !reflect.DeepEqual(c.Exposed, []string{"7000"}) {
		t.Errorf("hosts %v, exposed %v", c.ExtraHosts, c.Exposed)
	}
	o, err := c.RunOptions("0123456789abcdef", "", false)
	if err != nil {
		t.Fatal(err)
	}
	var nofile, nproc bool
	for _, r := range o.Rlimits {
		nofile = nofile || (r.Resource == unix.RLIMIT_NOFILE && r.Soft == 10 && r.Hard == 20)
		nproc = nproc || r.Resource == unix.RLIMIT_NPROC
	}
	if !nofile || !nproc {
		t.Errorf("rlimits %+v: want nofile 10:20 and the default nproc guard", o.Rlimits)
	}
}

// Bad values are refused before anything is written, each naming its flag.
func TestDockerFlagsRefused(t *testing.T) {
	existing := filepath.Join(t.TempDir(), "cid")
	os.WriteFile(existing, nil, 0o600)
	bad := -5
	cases := map[string]func(*DockerFlags){
		"label":                   func(d *DockerFlags) { d.Label = []string{"=x"} },
		"--label-file":            func(d *DockerFlags) { d.LabelFile = []string{"/nonexistent/labels"} },
		"--stop-signal":           func(d *DockerFlags) { d.StopSignal = "NOPE" },
		"--stop-timeout":          func(d *DockerFlags) { d.StopTimeout = &bad },
		"--add-host":              func(d *DockerFlags) { d.AddHost = []string{"db"} },
		"--group-add":             func(d *DockerFlags) { d.GroupAdd = []string{"a:b"} },
		"--device":                func(d *DockerFlags) { d.Device = []string{"/etc/passwd"} },
		"--platform":              func(d *DockerFlags) { d.Platform = "linux/s390x" },
		"--expose":                func(d *DockerFlags) { d.Expose = []string{"80:80"} },
		"container ID file found": func(d *DockerFlags) { d.CIDFile = existing },
		"--log-opt":               func(d *DockerFlags) { d.LogOpt = []string{"mode=non-blocking"} },
		"--shm-size":              func(d *DockerFlags) { d.ShmSize = "big" },
		"--ulimit":                func(d *DockerFlags) { d.Ulimit = []string{"nofile=2:1"} },
		"--memory":                func(d *DockerFlags) { d.Memory = "-1" },
		"--cpus":                  func(d *DockerFlags) { d.CPUs = "0" },
	}
	for want, set := range cases {
		d := dockerFlags()
		set(&d)
		f := &ContainerFlags{Restart: "no", DockerFlags: d}
		if _, err := f.config("busybox", nil, true); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want an error naming it: %v", want, err)
		}
	}
}
