package sandbox

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// fakeCgroup makes a cgroup directory in a fake cgroup2 tree: its
// controllers, those enabled for its children, its processes.
func fakeCgroup(t *testing.T, dir, ctrl, subtree, procs string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for f, v := range map[string]string{"cgroup.controllers": ctrl, "cgroup.subtree_control": subtree, "cgroup.procs": procs} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCheckCgroupFakeTrees(t *testing.T) {
	me := os.Getuid()
	other := me + 1
	for name, tc := range map[string]struct {
		version    string
		self       string
		uid        int
		build      func(root string)
		delegated  string // relative to root, "" for none
		ctrl       string
		errMention string
	}{
		"hybrid": {version: CgroupHybrid, self: "0::/user.slice\n", uid: me, build: func(string) {}, errMention: "hybrid cgroups"},
		"v1":     {version: CgroupV1, self: "", uid: me, build: func(string) {}, errMention: "cgroup v1"},
		"session scope, not the user's": {version: CgroupV2, self: "0::/user.slice/user-5.slice/session-1.scope\n", uid: other,
			build: func(root string) {
				fakeCgroup(t, filepath.Join(root, "user.slice/user-5.slice/session-1.scope"), "memory pids", "", "42")
			}, errMention: "not delegated"},
		"systemd user service, husk in a scope below": {version: CgroupV2, uid: me,
			self: "0::/user.slice/user-U.slice/user@U.service/app.slice/x.scope\n",
			build: func(root string) {
				svc := filepath.Join(root, "user.slice/user-U.slice/user@U.service")
				fakeCgroup(t, filepath.Join(root, "user.slice"), "cpu memory pids cpuset", "cpu memory pids", "")
				fakeCgroup(t, svc, "cpu memory pids", "cpu memory pids", "")
				fakeCgroup(t, filepath.Join(svc, "app.slice"), "cpu memory pids", "", "")
				fakeCgroup(t, filepath.Join(svc, "app.slice/x.scope"), "cpu memory pids", "", "7")
			}, delegated: "user.slice/user-U.slice/user@U.service", ctrl: "cpu memory pids"},
		"delegated, no controllers": {version: CgroupV2, uid: me, self: "0::/job\n",
			build:     func(root string) { fakeCgroup(t, filepath.Join(root, "job"), "", "", "9") },
			delegated: "job", errMention: "no controllers"},
		"delegated, empty, controllers to enable": {version: CgroupV2, uid: me, self: "0::/job/husk\n",
			build: func(root string) {
				fakeCgroup(t, filepath.Join(root, "job"), "memory pids", "", "")
				fakeCgroup(t, filepath.Join(root, "job/husk"), "", "", "9")
			}, delegated: "job", ctrl: "memory pids"},
	} {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			self := strings.ReplaceAll(tc.self, "U", "1000")
			tc.build(root)
			// user@UID.service by the uid checked: rename the fake one.
			if d := filepath.Join(root, "user.slice/user-U.slice"); exists(d) {
				_ = os.Rename(filepath.Join(d, "user@U.service"), filepath.Join(d, "user@1000.service"))
				_ = os.Rename(d, filepath.Join(root, "user.slice/user-1000.slice"))
			}
			ci := checkCgroup(root, tc.version, self, tc.uid)
			want := ""
			if tc.delegated != "" {
				want = filepath.Join(root, strings.ReplaceAll(tc.delegated, "U", "1000"))
			}
			if got := ""; ci.Delegated {
				got = ci.Path
				if got != want {
					t.Errorf("delegated %q, want %q", got, want)
				}
			} else if want != "" {
				t.Errorf("not delegated (%v), want %q", ci.Err, want)
			}
			if tc.ctrl != "" && strings.Join(ci.Controllers, " ") != tc.ctrl {
				t.Errorf("controllers %v, want %q", ci.Controllers, tc.ctrl)
			}
			if tc.errMention == "" && ci.Err != nil || tc.errMention != "" && (ci.Err == nil || !strings.Contains(ci.Err.Error(), tc.errMention)) {
				t.Errorf("err %v, want one mentioning %q", ci.Err, tc.errMention)
			}
		})
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

func TestLimitFiles(t *testing.T) {
	mem, quota, period, pids := int64(64<<20), int64(150000), uint64(100000), int64(10)
	r := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &mem}, CPU: &specs.LinuxCPU{Quota: &quota, Period: &period, Cpus: "0-1"},
		Pids: &specs.LinuxPids{Limit: &pids}}
	got := limitFiles(r)
	want := map[string]string{"memory.max": "67108864", "cpu.max": "150000 100000", "cpuset.cpus": "0-1", "pids.max": "10"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if c := limitControllers(r); !slices.Equal(c, []string{"memory", "cpu", "cpuset", "pids"}) {
		t.Errorf("controllers %v", c)
	}
	unlimited := int64(-1)
	if c := limitControllers(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: &unlimited}}); len(c) != 0 {
		t.Errorf("--pids-limit -1 needs no cgroup: %v", c)
	}
}

func TestPlanCgroupUnderSlurm(t *testing.T) {
	t.Setenv("SLURM_JOB_ID", "77")
	mem := int64(1 << 30)
	_, err := PlanCgroup("id", &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &mem}})
	if err == nil || !strings.Contains(err.Error(), "Slurm job 77") {
		t.Errorf("want the job's limits to stand: %v", err)
	}
	if p, err := PlanCgroup("id", nil); p != nil || err != nil {
		t.Errorf("no limits: want no plan and no error: %v %v", p, err)
	}
}

// place makes the container's cgroup below the delegated one, enables the
// controllers missing there, writes the limits and enters it by clone3;
// its cleanup removes it. A fake tree shows the files it writes.
func TestPlaceFakeTree(t *testing.T) {
	parent := t.TempDir()
	fakeCgroup(t, parent, "cpu memory pids", "memory", "")
	mem, pids := int64(1<<20), int64(5)
	p := &CgroupPlan{Parent: parent, ID: "abc", Resources: &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &mem},
		Pids: &specs.LinuxPids{Limit: &pids}}}
	cmd := exec.Command("true")
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	remove, err := p.place(cmd)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "husk-abc")
	for f, want := range map[string]string{"memory.max": "1048576", "pids.max": "5"} {
		if b, _ := os.ReadFile(filepath.Join(dir, f)); string(b) != want {
			t.Errorf("%s = %q, want %q", f, b, want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(parent, "cgroup.subtree_control")); string(b) != "+pids" {
		t.Errorf("subtree_control written %q, want only the missing +pids", b)
	}
	if !cmd.SysProcAttr.UseCgroupFD {
		t.Errorf("the sandbox must start in its cgroup")
	}
	for _, f := range []string{"memory.max", "pids.max"} {
		os.Remove(filepath.Join(dir, f)) // cgroupfs has no such files to remove
	}
	remove()
	if exists(dir) {
		t.Errorf("%s left behind", dir)
	}
}
