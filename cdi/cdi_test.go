package cdi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"husk/sandbox"
)

const spec = `cdiVersion: "0.6.0"
kind: vendor.com/class
containerEdits:
  env: [SPEC=1]
devices:
- name: dev0
  containerEdits:
    env: [DEV=0]
    deviceNodes: [{path: /dev/cdizero, hostPath: /dev/zero, permissions: rw}]
    mounts: [{hostPath: /proc/self, containerPath: /data, options: [ro, rbind, nosuid]}]
    hooks: [{hookName: createContainer, path: /usr/bin/hook, args: [hook, a], timeout: 5}]
- name: post
  containerEdits:
    hooks: [{hookName: poststop, path: /usr/bin/hook}]
`

func specDir(t *testing.T) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vendor.yaml"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestApply(t *testing.T) {
	c := &sandbox.Config{OCI: specs.Spec{Process: &specs.Process{Env: []string{"USER=1"}}}}
	if err := Apply(c, []string{specDir(t)}, []string{"vendor.com/class=dev0"}); err != nil {
		t.Fatal(err)
	}
	if d := c.Devices; len(d) != 1 || d[0] != (sandbox.Device{PathOnHost: "/dev/zero", PathInContainer: "/dev/cdizero", CgroupPermissions: "rw"}) {
		t.Errorf("devices: %+v", d)
	}
	if m := c.OCI.Mounts; len(m) != 1 || m[0].Type != "bind" || m[0].Source != "/proc/self" || strings.Join(m[0].Options, ",") != "ro,nosuid" {
		t.Errorf("mounts: %+v", m)
	}
	if env := strings.Join(c.OCI.Process.Env, " "); env != "SPEC=1 DEV=0 USER=1" {
		t.Errorf("env: the spec's, the device's, then -e's: %q", env)
	}
	if h := c.Hooks; len(h) != 1 || h[0].When != sandbox.HookCreateContainer || h[0].Timeout != 5 || strings.Join(h[0].Args, " ") != "hook a" {
		t.Errorf("hooks: %+v", h)
	}
}

func TestApplyRefuses(t *testing.T) {
	dir := specDir(t)
	for name, want := range map[string]string{
		"vendor.com/class=nosuch": "unknown CDI device vendor.com/class=nosuch: no CDI spec in " + dir,
		"vendor.com/class=post":   "poststop hook",
	} {
		c := &sandbox.Config{OCI: specs.Spec{Process: &specs.Process{}}}
		err := Apply(c, []string{dir}, []string{name})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want %q, got %v", name, want, err)
		}
	}
}

func TestIsName(t *testing.T) {
	for s, want := range map[string]bool{"nvidia.com/gpu=0": true, "vendor.com/class=all": true, "/dev/null": false,
		"/dev/null:/dev/x": false, "gpu=0": false, "vendor.com/class": false} {
		if IsName(s) != want {
			t.Errorf("IsName(%q): want %t", s, want)
		}
	}
}

func TestGPUs(t *testing.T) {
	t.Setenv("SLURM_STEP_GPUS", "")
	t.Setenv("SLURM_JOB_GPUS", "")
	for in, want := range map[string]string{
		"all": "nvidia.com/gpu=all", "2": "nvidia.com/gpu=0 nvidia.com/gpu=1", "count=1,capabilities=compute": "nvidia.com/gpu=0",
		`"device=1,GPU-abc"`: "nvidia.com/gpu=1 nvidia.com/gpu=GPU-abc", "device=0": "nvidia.com/gpu=0",
		"0": "", "bogus": "", "device=": "", "count=x": "",
	} {
		got, err := GPUs(in)
		if strings.Join(got, " ") != want || (want == "") != (err != nil) {
			t.Errorf("GPUs(%q) = %v, %v: want %q", in, got, err, want)
		}
	}
	t.Setenv("SLURM_JOB_GPUS", "2,3")
	if got, _ := GPUs("all"); strings.Join(got, " ") != "nvidia.com/gpu=2 nvidia.com/gpu=3" {
		t.Errorf("--gpus all in a Slurm job with GPUs 2,3: %v", got)
	}
	if _, err := GPUs("3"); err == nil || !strings.Contains(err.Error(), "has 2 GPUs") {
		t.Errorf("--gpus 3 in a job with 2: %v", err)
	}
}

func TestDirs(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/x")
	if d := Dirs(); strings.Join(d, " ") != "/etc/cdi /var/run/cdi /x/cdi" {
		t.Errorf("Dirs: %v", d)
	}
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("HOME", "/h")
	if d := Dirs(); d[2] != "/h/.config/cdi" {
		t.Errorf("Dirs without XDG_CONFIG_HOME: %v", d)
	}
}
