package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// `srun husk run` on the single-node Slurm that prepare.sh (slurm.sh)
// starts: srun runs husk as this user, in this test's HOME, with the
// husk the harness copied first in PATH.

// slurmEnv is a busybox env on a Slurm that takes jobs.
func slurmEnv(t *testing.T) (*env, string) {
	t.Helper()
	if _, err := exec.LookPath("srun"); err != nil {
		skipOrFail(t, "no srun: run integration/prepare.sh as root (it installs and starts Slurm)")
	}
	// A node that runs jobs takes more (slurm.sh's partition shares
	// nodes, OverSubscribe=FORCE:4), as slurm.sh judges; one a step just
	// left may be completing for some seconds.
	var out []byte
	var err error
	for i := 0; i < 60; i++ {
		out, err = exec.Command("sinfo", "-h", "-o", "%T").CombinedOutput()
		if err == nil && slices.ContainsFunc([]string{"idle", "mix", "alloc"}, func(s string) bool { return strings.Contains(string(out), s) }) {
			return busyboxEnv(t, "")
		}
		time.Sleep(500 * time.Millisecond)
	}
	skipOrFail(t, "Slurm has no node that takes jobs (sinfo: %q, %v): run integration/prepare.sh as root", out, err)
	return nil, ""
}

// srunCmd prepares `srun ARGS` in e's environment plus vars, in its own
// process group, which a timeout kills whole (by its id).
func (e *env) srunCmd(ctx context.Context, vars []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "srun", args...)
	cmd.Env = append(e.environ(), vars...)
	cmd.Dir = e.home
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// srun runs `srun ARGS` to its end, with a 3-minute limit.
func (e *env) srun(vars []string, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := e.srunCmd(ctx, vars, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{args: append([]string{"(srun)"}, args...), stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		r.code = -1
		r.stderr += "\n(harness: " + err.Error() + ")"
	}
	return r
}

// wantNoContainers: a step's container leaves no record behind.
func (e *env) wantNoContainers() {
	e.t.Helper()
	if ids := lines(e.ok("ps", "-a", "-q").stdout); len(ids) != 0 {
		e.t.Errorf("want no container records after the step, have %q:\n%s", ids, e.ok("ps", "-a").stdout)
	}
}

// The container's exit code is srun's, and the step leaves no record.
func TestSlurmExitCode(t *testing.T) {
	e, ref := slurmEnv(t)
	r := e.srun(nil, "husk", "run", "--rm", ref, "sh", "-c", "echo out; echo err >&2; exit 3")
	if r.code != 3 || r.stdout != "out\n" || !strings.Contains(r.stderr, "err\n") {
		t.Errorf("want exit 3, \"out\" on stdout and \"err\" on stderr: %s", r)
	}
	r = e.srun(nil, "husk", "run", ref, "true")
	if r.code != 0 {
		t.Errorf("want exit 0: %s", r)
	}
	// Without --rm too: a step's run is --rm by default.
	e.wantNoContainers()
}

// Each rank sees its own Slurm variables; PMI_, PMIX_ and OMPI_ variables
// pass too, and the PMIx server's directory is bound in at its own path.
// Other host variables stay out.
func TestSlurmRanks(t *testing.T) {
	e, ref := slurmEnv(t)
	pmix := filepath.Join(e.home, "pmix")
	if err := os.Mkdir(pmix, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pmix, "server"), []byte("here\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := []string{"PMIX_SERVER_TMPDIR=" + pmix, "PMI_HUSK_TEST=p", "OMPI_HUSK_TEST=o", "HUSK_TEST_OTHER=x"}
	r := e.srun(vars, "-n2", "husk", "run", ref, "sh", "-c",
		`echo "$SLURM_PROCID $SLURM_NTASKS $PMI_HUSK_TEST$OMPI_HUSK_TEST[$HUSK_TEST_OTHER] $(cat "$PMIX_SERVER_TMPDIR/server")"`)
	got := lines(r.stdout)
	slices.Sort(got)
	want := []string{"0 2 po[] here", "1 2 po[] here"}
	if r.code != 0 || !slices.Equal(got, want) {
		t.Errorf("want lines %q: %s", want, r)
	}
	e.wantNoContainers()
}

// --env-host passes the host's environment, but PATH and HOME, which name
// the host's files; -e still wins.
func TestSlurmEnvHost(t *testing.T) {
	e, ref := slurmEnv(t)
	vars := []string{"HUSK_TEST_A=a", "HUSK_TEST_B=b"}
	script := `echo "$HUSK_TEST_A $HUSK_TEST_B $HOME $PATH"`
	r := e.srun(vars, "husk", "run", "--env-host", "-e", "HUSK_TEST_B=mine", ref, "sh", "-c", script)
	if want := "a mine /root /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"; r.code != 0 || r.stdout != want {
		t.Errorf("want %q: %s", want, r)
	}
	r = e.srun(vars, "husk", "run", ref, "sh", "-c", script)
	if r.code != 0 || strings.Contains(r.stdout, "a ") {
		t.Errorf("without --env-host, want no HUSK_TEST_A inside: %s", r)
	}
}

// While a step runs, `scontrol listpids` lists husk and the container's
// process; scancel (SIGTERM, then SIGKILL after KillWait), the step's time
// limit, and SIGKILL to husk alone (as Slurm sends when husk outlives
// KillWait: husk gets no chance to clean up, its sandbox dies with it) end
// them all and leave no record and no mount.
func TestSlurmScancel(t *testing.T) {
	e, ref := slurmEnv(t)
	for _, c := range []struct {
		name string
		srun []string // srun's own options
		end  func(job string, pids []int) error
	}{
		{"scancel", nil, func(job string, _ []int) error { return exec.Command("scancel", job).Run() }},
		{"SIGKILL to husk", nil, killHusk},
		// Slurm's least limit is a minute, checked every 30 s or so.
		{"time limit", []string{"-t", "1"}, func(string, []int) error { return nil }},
	} {
		t.Run(c.name, func(t *testing.T) { endStep(t, e, ref, c.srun, c.end) })
	}
}

// endStep runs `srun husk run REF sleep 2718` and ends it with end.
func endStep(t *testing.T, e *env, ref string, opts []string, end func(job string, pids []int) error) {
	name := "husk-test-" + randomHex(4)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	args := append(append([]string{"-J", name}, opts...), "husk", "run", ref, "sleep", "2718")
	cmd := e.srunCmd(ctx, nil, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	job, pids, sleeper := waitForStep(t, name, "sleep\x002718\x00", done)
	if sleeper == 0 {
		t.Fatalf("scontrol listpids %s never listed the container's sleep 2718 (pids %v); srun said:\n%s", job, pids, out.String())
	}
	t.Logf("job %s: pids %v, the container's sleep is %d", job, pids, sleeper)
	if err := end(job, pids); err != nil {
		t.Fatalf("ending job %s: %v", job, err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("srun exited 0 for an ended step: want a failure:\n%s", out.String())
		}
	case <-time.After(150 * time.Second):
		t.Fatalf("srun still running 150 s after the step's end began:\n%s", out.String())
	}
	// Slurm waits for the step's processes before srun returns; allow
	// a moment for any straggler it did not wait for.
	deadline := time.Now().Add(10 * time.Second)
	stepProcessesGone(t, job, pids, deadline)
	e.wantNoContainers()
	if mi, err := os.ReadFile("/proc/self/mountinfo"); err == nil && strings.Contains(string(mi), e.home) {
		t.Errorf("mounts under %s are left after the step:\n%s", e.home, mi)
	}
}

// killHusk sends SIGKILL to the step's husk process, found by PID among
// the step's.
func killHusk(job string, pids []int) error {
	for _, p := range pids {
		if args := strings.Split(cmdline(p), "\x00"); len(args) > 1 && filepath.Base(args[0]) == "husk" && args[1] == "run" {
			return syscall.Kill(p, syscall.SIGKILL)
		}
	}
	return fmt.Errorf("no husk run among the processes %v of job %s", pids, job)
}

// waitForStep waits until the job named name runs a step whose listed
// processes include one with command line cmd, and returns the job's ID,
// the listed PIDs, and that process's PID (0 if none came in time).
func waitForStep(t *testing.T, name, cmd string, done <-chan error) (job string, pids []int, match int) {
	t.Helper()
	for i := 0; i < 300; i++ {
		select {
		case err := <-done:
			t.Fatalf("srun ended before the step ran: %v", err)
		default:
		}
		time.Sleep(100 * time.Millisecond)
		out, _ := exec.Command("squeue", "-h", "-n", name, "-o", "%i").Output()
		job = strings.TrimSpace(string(out))
		if job == "" {
			continue
		}
		pids = listPids(job)
		for _, p := range pids {
			if cmdline(p) == cmd {
				return job, pids, p
			}
		}
	}
	return job, pids, 0
}

// listPids is `scontrol listpids JOB`'s PIDs.
func listPids(job string) []int {
	out, _ := exec.Command("scontrol", "listpids", job).Output()
	var pids []int
	for _, l := range lines(string(out)) {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if p, err := strconv.Atoi(f[0]); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

func cmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return string(b)
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// ociStepBundle is a busybox bundle for srun --container, with the husk
// under test beside its rootfs, where slurm.sh's oci.conf looks for it
// (BUNDLE/husk; its state in BUNDLE/oci-state).
func ociStepBundle(t *testing.T, e *env, ref string) string {
	t.Helper()
	bundle := ociBundle(t, e, ref, "true")
	if err := os.Symlink(huskBin, filepath.Join(bundle, "husk")); err != nil {
		t.Fatal(err)
	}
	return bundle
}

// ociLeft lists the containers left in the bundle's state directory.
func ociLeft(e *env, bundle string) []string {
	r := e.run("oci", "--root", filepath.Join(bundle, "oci-state"), "list", "-q")
	return lines(r.stdout)
}

// srun --container=BUNDLE runs the bundle through oci.conf's RunTimeRun
// (husk oci run): the step's command and variables in the container, its
// output and exit code through srun, no container left after. (The
// environment Slurm 22.05 writes into config.json has the step's variables
// but not the task's: SLURM_PROCID is empty there.)
func TestSlurmContainer(t *testing.T) {
	e, ref := slurmEnv(t)
	bundle := ociStepBundle(t, e, ref)
	r := e.srun(nil, "--container="+bundle, "sh", "-c",
		`echo "out ${SLURM_JOB_ID:+job} $SLURM_STEP_NUM_TASKS $(id -u)"; echo err >&2; exit 3`)
	if r.code != 3 || r.stdout != "out job 1 0\n" || !strings.Contains(r.stderr, "err\n") {
		t.Errorf("want exit 3, \"out job 1 0\" on stdout and \"err\" on stderr: %s", r)
	}
	if left := ociLeft(e, bundle); len(left) != 0 {
		t.Errorf("containers left after the step: %q", left)
	}
}

// scancel ends a --container step's container: its processes go, and no
// container is left in the state directory.
func TestSlurmContainerScancel(t *testing.T) {
	e, ref := slurmEnv(t)
	bundle := ociStepBundle(t, e, ref)
	name := "husk-test-" + randomHex(4)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := e.srunCmd(ctx, nil, "-J", name, "--container="+bundle, "sleep", "2718")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	job, pids, sleeper := waitForStep(t, name, "sleep\x002718\x00", done)
	if sleeper == 0 {
		t.Fatalf("scontrol listpids %s never listed the container's sleep 2718 (pids %v); srun said:\n%s", job, pids, out.String())
	}
	if err := exec.Command("scancel", job).Run(); err != nil {
		t.Fatalf("scancel %s: %v", job, err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("srun exited 0 for a cancelled step:\n%s", out.String())
		}
	case <-time.After(150 * time.Second):
		t.Fatalf("srun still running 150 s after scancel:\n%s", out.String())
	}
	deadline := time.Now().Add(10 * time.Second)
	stepProcessesGone(t, job, pids, deadline)
	for len(ociLeft(e, bundle)) != 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if left := ociLeft(e, bundle); len(left) != 0 {
		t.Errorf("containers left after scancel: %q", left)
	}
}

// stepProcessesGone fails t for each of a step's processes still alive at
// deadline.
func stepProcessesGone(t *testing.T, job string, pids []int, deadline time.Time) {
	t.Helper()
	for _, pid := range pids {
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if alive(pid) {
			t.Errorf("process %d of job %s (%q) outlived the step", pid, job, cmdline(pid))
		}
	}
}
