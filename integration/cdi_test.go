package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeCDISpec writes a CDI spec into the user's own directory,
// ~/.config/cdi, which husk searches after /etc/cdi and /var/run/cdi.
func writeCDISpec(t *testing.T, e *env, file, content string) {
	t.Helper()
	dir := filepath.Join(e.home, ".config", "cdi")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A CDI device of the test's own spec: a node the user can open under
// another name, a bind of a host directory, a variable, and a hook of
// each kind husk runs, all seen from inside the container.
func TestCDIDevices(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	data := filepath.Join(e.home, "cdi-data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "f"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The createContainer hook runs before the pivot, in the container's
	// root, with its OCI state on stdin.
	hook := filepath.Join(e.home, "hook.sh")
	script := "#!/bin/sh\ncat > ./cdi-state\necho \"created $1\" > ./cdi-marker\n"
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	writeCDISpec(t, e, "vendor.json", fmt.Sprintf(`{"cdiVersion": "0.6.0", "kind": "vendor.com/class",
  "containerEdits": {"env": ["CDI_SPEC=1"]},
  "devices": [
    {"name": "dev0", "containerEdits": {
      "deviceNodes": [{"path": "/dev/cdizero", "hostPath": "/dev/zero"}],
      "env": ["CDI_TEST=yes"],
      "mounts": [{"hostPath": %q, "containerPath": "/cdi-data", "options": ["ro", "bind"]}],
      "hooks": [
        {"hookName": "createContainer", "path": %q, "args": ["hook.sh", "arg1"], "env": ["PATH=/usr/bin:/bin"]},
        {"hookName": "startContainer", "path": "/bin/sh", "args": ["sh", "-c", "echo started > /start-marker"]}]}},
    {"name": "failing", "containerEdits": {"hooks": [{"hookName": "createContainer", "path": "/bin/false"}]}},
    {"name": "slow", "containerEdits": {"hooks": [{"hookName": "startContainer", "path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]}},
    {"name": "poststop", "containerEdits": {"hooks": [{"hookName": "poststop", "path": "/bin/true"}]}}]}`, data, hook))
	t.Run("applied", func(t *testing.T) {
		script := `ls -l /dev/cdizero; head -c 3 /dev/cdizero | wc -c; echo "$CDI_SPEC $CDI_TEST"; cat /cdi-data/f;
			cat /cdi-marker /start-marker /cdi-state; echo; touch /cdi-data/g 2>/dev/null || echo read-only`
		out := e.shOut(ref, script, "--rm", "--device", "vendor.com/class=dev0")
		for _, want := range []string{"\nc", "/dev/cdizero", "\n3\n", "1 yes", "from the host", "created arg1", "started",
			`"status":"creating"`, "read-only"} {
			if !strings.Contains("\n"+out, want) {
				t.Errorf("--device vendor.com/class=dev0: want %q inside: %q", want, out)
			}
		}
		if out := e.sbxOut([]string{"--rm", "--device", "vendor.com/class=dev0", "-e", "CDI_TEST=mine"}, ref, "sh", "-c", "echo $CDI_TEST"); out != "mine" {
			t.Errorf("-e wins over a CDI spec's variable: %q", out)
		}
	})
	t.Run("create and start", func(t *testing.T) {
		e.ok("create", "--name", "cdi1", "--device", "vendor.com/class=dev0", ref, "cat", "/cdi-marker", "/start-marker")
		if r := e.ok("start", "-a", "cdi1"); r.stdout != "created arg1\nstarted\n" {
			t.Errorf("a created container runs its CDI hooks at start: %s", r)
		}
		e.ok("rm", "cdi1")
	})
	t.Run("refused", func(t *testing.T) {
		r := e.sbx([]string{"--rm", "--device", "vendor.com/class=nosuch"}, ref, "true")
		e.wantRunError(r, "unknown CDI device vendor.com/class=nosuch", "/etc/cdi", "/var/run/cdi", filepath.Join(e.home, ".config", "cdi"))
		e.wantRunError(e.sbx([]string{"--rm", "--device", "vendor.com/class=poststop"}, ref, "true"), "poststop hook", "createContainer")
		e.wantRunError(e.sbx([]string{"--rm", "--device", "vendor.com/class=failing"}, ref, "true"), "createContainer hook /bin/false failed")
		e.wantRunError(e.sbx([]string{"--rm", "--device", "vendor.com/class=slow"}, ref, "true"), "startContainer hook /bin/sleep ran past its timeout of 1s")
		e.wantRunError(e.sbx([]string{"--rm", "--gpus", "bogus"}, ref, "true"), "invalid --gpus")
		if dev := unopenableDevice(t); dev != "" {
			writeCDISpec(t, e, "closed.yaml", "cdiVersion: \"0.6.0\"\nkind: vendor.com/closed\ndevices:\n- name: d\n  containerEdits:\n    deviceNodes: [{path: /dev/x, hostPath: "+dev+"}]\n")
			e.wantRunError(e.sbx([]string{"--rm", "--device", "vendor.com/closed=d"}, ref, "true"), "vendor.com/closed=d", dev, "devices you can open")
		}
	})
	if out := e.out("ps", "-a", "-q"); out != "" {
		t.Errorf("refused runs must leave no container: %q", out)
	}
	e.noLeftovers()
}

// --gpus is Docker's shortcut to NVIDIA's CDI devices: a fake
// nvidia.com/gpu spec of the test's, its nodes /dev/null under GPU names.
func TestCDIGPUs(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	writeCDISpec(t, e, "nvidia.yaml", `cdiVersion: "0.6.0"
kind: nvidia.com/gpu
containerEdits:
  env: [NVIDIA_VISIBLE_DEVICES=void]
devices:
- name: "0"
  containerEdits:
    deviceNodes: [{path: /dev/nvidia0, hostPath: /dev/null}]
    env: [CUDA_VISIBLE_DEVICES=0]
- name: "1"
  containerEdits:
    deviceNodes: [{path: /dev/nvidia1, hostPath: /dev/null}]
- name: all
  containerEdits:
    deviceNodes: [{path: /dev/nvidia0, hostPath: /dev/null}, {path: /dev/nvidia1, hostPath: /dev/null}]
`)
	if out := e.out("info", "--format", "{{.CDI.Devices}}"); out != "[nvidia.com/gpu=0 nvidia.com/gpu=1 nvidia.com/gpu=all]" {
		t.Errorf("husk info lists the CDI devices found: %q", out)
	}
	script := "ls /dev | grep nvidia | tr '\\n' ' '; echo $NVIDIA_VISIBLE_DEVICES $CUDA_VISIBLE_DEVICES"
	for flag, want := range map[string]string{"all": "nvidia0 nvidia1 void", "1": "nvidia0 void 0", "device=1": "nvidia1 void",
		"device=0,1": "nvidia0 nvidia1 void 0"} {
		if out := e.shOut(ref, script, "--rm", "--gpus", flag); out != want {
			t.Errorf("--gpus %s: want %q, got %q", flag, want, out)
		}
	}
	r := e.sbx([]string{"--rm", "--gpus", "3"}, ref, "true")
	e.wantRunError(r, "unknown CDI device nvidia.com/gpu=2", filepath.Join(e.home, ".config", "cdi"))
	e.noLeftovers()
}

// Limits go to a delegated cgroup v2 where there is one; here (hybrid
// cgroups, or v2 without delegated controllers) one line says which were
// not applied and why, and the container runs. In a Slurm job the job's
// own limits stand.
func TestLimitsNotice(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	r := e.sbx([]string{"--rm", "--memory", "64m", "--cpus", "1", "--pids-limit", "50", "--cpuset-cpus", "0"}, ref, "echo", "ran")
	if r.code != 0 || r.stdout != "ran\n" || len(lines(r.stderr)) != 1 {
		t.Fatalf("limits without a delegated cgroup: want the run and one line: %s", r)
	}
	for _, want := range []string{"--memory", "--cpus", "--cpuset-cpus", "--pids-limit", "not applied", "cgroup"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("the notice should name %q: %q", want, r.stderr)
		}
	}
	r = e.run("create", "--memory", "64m", ref, "true")
	if r.code != 0 || !strings.Contains(r.stderr, "--memory not applied") {
		t.Errorf("create: want the same notice: %s", r)
	}
	e.ok("rm", strings.TrimSpace(r.stdout))
	e.wantRunError(e.sbx([]string{"--rm", "--cpuset-cpus", "0-4096"}, ref, "true"), "--cpuset-cpus")
	e.wantRunError(e.sbx([]string{"--rm", "--cpuset-cpus", "a"}, ref, "true"), "--cpuset-cpus")
	e.vars["SLURM_JOB_ID"] = "4242"
	r = e.sbx([]string{"--rm", "--memory", "64m"}, ref, "echo", "ran")
	if r.code != 0 || r.stdout != "ran\n" || !strings.Contains(r.stderr, "Slurm job 4242") || len(lines(r.stderr)) != 1 {
		t.Errorf("in a Slurm job: want the job's limits said to stand, in one line: %s", r)
	}
	delete(e.vars, "SLURM_JOB_ID")
	e.noLeftovers()
}
