package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"husk/sandbox"
)

// SlurmFlags are run's and create's flags for running inside a Slurm job
// step, and Apptainer's --env-host.
type SlurmFlags struct {
	EnvHost bool `name:"env-host" help:"Pass the whole host environment into the container (but PATH, HOME, LD_LIBRARY_PATH and LD_PRELOAD), as Apptainer does; -e and --env-file still win."`
}

// slurmPrefixes are the variables a step's tasks need to find their rank
// and their peers: Slurm's own, and those of the PMI, PMIx and Open MPI
// wire-up.
var slurmPrefixes = []string{"SLURM_", "PMI_", "PMIX_", "OMPI_"}

// hostEnvSkipped are host variables --env-host leaves out: they name the
// host's files, which the image does not have.
var hostEnvSkipped = map[string]bool{"PATH": true, "HOME": true, "LD_LIBRARY_PATH": true, "LD_PRELOAD": true}

// slurmStep is the job step husk runs in, from Slurm's variables; nil
// outside a step (an sbatch script's own shell has SLURM_JOB_ID but no
// SLURM_STEP_ID).
func slurmStep() *sandbox.SlurmStep {
	job, step := os.Getenv("SLURM_JOB_ID"), os.Getenv("SLURM_STEP_ID")
	if job == "" || step == "" {
		return nil
	}
	return &sandbox.SlurmStep{JobID: job, StepID: step, ProcID: os.Getenv("SLURM_PROCID")}
}

// hostEnv is what this process's environment gives the container, read
// once at create: the whole of it with --env-host, and in a Slurm step the
// step's wire-up variables. -e and --env-file come after it, so they win.
func (f *SlurmFlags) hostEnv(step *sandbox.SlurmStep) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case f.EnvHost && !hostEnvSkipped[k]:
			out = append(out, kv)
		case step != nil && hasAnyPrefix(k, slurmPrefixes):
			out = append(out, kv)
		}
	}
	return out
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// withSlurm resolves, once at create, what a Slurm step changes in the
// config: the host environment before -e, the PMIx server's directory
// bound in at its own path (the PMIx client finds its server's socket
// there), the host's network unless a flag asks for a network of husk's
// (ranks on several nodes reach each other at the nodes' addresses, at
// the interconnect's speed). A foreground run's --rm is stepRm's.
func (f *ContainerFlags) withSlurm(c *sandbox.Config) error {
	step := slurmStep()
	env := f.hostEnv(step)
	if len(env) > 0 {
		c.OCI.Process.Env = append(env, c.OCI.Process.Env...)
	}
	if step == nil {
		return nil
	}
	c.Slurm = step
	if dir := os.Getenv("PMIX_SERVER_TMPDIR"); dir != "" {
		op, err := sandbox.VolumeOp(dir + ":" + dir)
		if err != nil {
			return err
		}
		c.OCI.Mounts = append(c.OCI.Mounts, sandbox.MountOf(op))
	}
	if dir := mungeDir(os.Getenv("PMIX_SECURITY_MODE")); dir != "" {
		op, err := sandbox.VolumeOp(dir + ":" + dir + ":ro")
		if err != nil {
			return err
		}
		c.OCI.Mounts = append(c.OCI.Mounts, sandbox.MountOf(op))
	}
	if f.Network == "" && f.Hostname == "" && len(f.Publish) == 0 && !f.PublishAll && len(f.DNS) == 0 {
		c.Network = sandbox.NetworkConfig{Mode: "host"}
	}
	return nil
}

// stepRm makes --rm the default of a foreground run in a Slurm step, with
// no restart policy: each step would otherwise leave a record behind. It
// is set on the flags, before the run chooses its path, as --rm would be.
func (f *ContainerFlags) stepRm() {
	if slurmStep() != nil && (f.Restart == "" || f.Restart == "no") {
		f.Rm = true
	}
}

// mungeDirs are where MUNGE's clients find munged's socket (libmunge's
// default, /run/munge/munge.socket.2, and older systems' /var/run).
var mungeDirs = []string{"/run/munge", "/var/run/munge"}

// mungeDir is munged's socket directory, to be bound in read-only at its
// own path when the step's PMIx server accepts MUNGE credentials
// (PMIX_SECURITY_MODE lists munge, as Slurm's mpi/pmix sets it); "" when
// it does not, or munged has no socket here. A rank runs as root in the
// container, and PMIx's native security would send the server that uid 0,
// which the server, expecting the job's user, refuses (Open MPI then
// fails in MPI_Init as if it had no PMI support); munged, asked through
// the socket, vouches for the uid the kernel reports on the host: the
// job's user. MUNGE is the user's already: the socket is open to all.
func mungeDir(modes string) string {
	if !slices.Contains(strings.Split(modes, ","), "munge") {
		return ""
	}
	for _, d := range mungeDirs {
		if st, err := os.Stat(filepath.Join(d, "munge.socket.2")); err == nil && st.Mode()&os.ModeSocket != 0 {
			if real, err := filepath.EvalSymlinks(d); err == nil {
				return real
			}
		}
	}
	return ""
}
