package cli

import (
	"net"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"husk/sandbox"
)

// In a job step the wire-up variables come before -e, the PMIx directory
// is bound in, and the step's defaults (host network, --rm) apply, all in
// the config written at create.
func TestSlurmStepConfig(t *testing.T) {
	pmix := t.TempDir()
	for k, v := range map[string]string{"SLURM_JOB_ID": "7", "SLURM_STEP_ID": "0", "SLURM_PROCID": "1",
		"PMIX_SERVER_TMPDIR": pmix, "OMPI_X": "o", "HUSK_OTHER": "x"} {
		t.Setenv(k, v)
	}
	f := &ContainerFlags{SandboxFlags: SandboxFlags{Env: []string{"OMPI_X=mine"}}, Restart: "no"}
	f.stepRm()
	c, err := f.config("busybox", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := (&sandbox.SlurmStep{JobID: "7", StepID: "0", ProcID: "1"}); !reflect.DeepEqual(c.Slurm, want) {
		t.Errorf("Slurm %+v, want %+v", c.Slurm, want)
	}
	env := c.OCI.Process.Env
	if env[len(env)-1] != "OMPI_X=mine" || slices.Contains(env, "HUSK_OTHER=x") || !slices.Contains(env, "SLURM_PROCID=1") || !slices.Contains(env, "OMPI_X=o") {
		t.Errorf("env %q: want the step's variables, then -e last, and no other host variable", env)
	}
	if len(c.OCI.Mounts) != 1 || c.OCI.Mounts[0].Source != pmix || c.OCI.Mounts[0].Destination != pmix {
		t.Errorf("mounts %+v: want %s bound at its own path", c.OCI.Mounts, pmix)
	}
	if !c.HostNetwork() || !c.AutoRemove {
		t.Errorf("network %q, autoRemove %v: want host and true in a step", c.Network.Mode, c.AutoRemove)
	}

	// A flag that needs husk's network keeps it; a detached one keeps
	// its record.
	f = &ContainerFlags{SandboxFlags: SandboxFlags{Publish: []string{"8080"}}, Restart: "no"}
	if c, err = f.config("busybox", nil, true); err != nil {
		t.Fatal(err)
	}
	if c.HostNetwork() || c.AutoRemove {
		t.Errorf("with -p and -d: network %q, autoRemove %v: want husk's and false", c.Network.Mode, c.AutoRemove)
	}
}

// Outside a step nothing of the host passes but with --env-host, which
// leaves out PATH and HOME.
func TestEnvHost(t *testing.T) {
	t.Setenv("SLURM_STEP_ID", "")
	t.Setenv("HUSK_OTHER", "x")
	f := &ContainerFlags{Restart: "no"}
	c, err := f.config("busybox", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.OCI.Process.Env) != 0 || c.Slurm != nil || c.AutoRemove {
		t.Errorf("outside a step: env %q, slurm %+v, autoRemove %v: want none", c.OCI.Process.Env, c.Slurm, c.AutoRemove)
	}
	f.EnvHost = true
	if c, err = f.config("busybox", nil, false); err != nil {
		t.Fatal(err)
	}
	if env := c.OCI.Process.Env; !slices.Contains(env, "HUSK_OTHER=x") || containsKey(env, "PATH") || containsKey(env, "HOME") {
		t.Errorf("--env-host: env %q: want the host's but PATH and HOME", env)
	}
}

func containsKey(env []string, k string) bool {
	for _, kv := range env {
		if len(kv) > len(k) && kv[:len(k)+1] == k+"=" {
			return true
		}
	}
	return false
}

// munged's socket directory is bound in only when the PMIx server takes
// MUNGE credentials and a socket is there.
func TestMungeDir(t *testing.T) {
	dir := t.TempDir()
	old := mungeDirs
	defer func() { mungeDirs = old }()
	mungeDirs = []string{filepath.Join(dir, "none"), dir}
	if got := mungeDir("munge,native"); got != "" {
		t.Errorf("no socket: got %q, want none", got)
	}
	l, err := net.Listen("unix", filepath.Join(dir, "munge.socket.2"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	real, _ := filepath.EvalSymlinks(dir)
	for modes, want := range map[string]string{"munge,native": real, "native": "", "": "", "munge": real, "nomunge": ""} {
		if got := mungeDir(modes); got != want {
			t.Errorf("PMIX_SECURITY_MODE=%q: got %q, want %q", modes, got, want)
		}
	}
}
