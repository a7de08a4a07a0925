package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// CgroupPlan is a container's own cgroup: Parent/husk-ID, holding the
// limits of Resources (--memory, --cpus, --pids-limit, --cpuset-cpus).
// Its name carries the ID, which husk pause looks for to freeze it.
type CgroupPlan struct {
	Parent, ID string
	Resources  *specs.LinuxResources
}

// limitControllers are the controllers r's limits need.
func limitControllers(r *specs.LinuxResources) []string {
	var need []string
	if r == nil {
		return nil
	}
	if r.Memory != nil && r.Memory.Limit != nil {
		need = append(need, "memory")
	}
	if r.CPU != nil && r.CPU.Quota != nil {
		need = append(need, "cpu")
	}
	if r.CPU != nil && r.CPU.Cpus != "" {
		need = append(need, "cpuset")
	}
	if r.Pids != nil && r.Pids.Limit != nil && *r.Pids.Limit > 0 {
		need = append(need, "pids")
	}
	return need
}

// slurmLimits: in a Slurm job, the job's cgroup is slurmd's, its
// processes stay in it (scontrol listpids, the step's accounting), and
// its limits are the ones that stand.
func slurmLimits(job string) error {
	return &cgroupProblem{"in Slurm job " + job + " the job's own limits stand (its cgroup is slurmd's)",
		"ask Slurm for them: --mem, --cpus-per-task, --gres"}
}

// PlanCgroup says where a container with r's limits gets its cgroup, or
// why it cannot have one (nil, nil: r has no limit a cgroup holds).
func PlanCgroup(id string, r *specs.LinuxResources) (*CgroupPlan, error) {
	need := limitControllers(r)
	if len(need) == 0 {
		return nil, nil
	}
	if job := os.Getenv("SLURM_JOB_ID"); job != "" {
		return nil, slurmLimits(job)
	}
	ci := CheckCgroup()
	if ci.Err != nil {
		return nil, ci.Err
	}
	var missing []string
	for _, c := range need {
		if !slices.Contains(ci.Controllers, c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, &cgroupProblem{fmt.Sprintf("cgroup %s is delegated to you without the %s controller", ci.Path, strings.Join(missing, ", ")),
			"ask the admin to delegate it (systemd: Delegate=" + strings.Join(need, " ") + ")"}
	}
	return &CgroupPlan{Parent: ci.Path, ID: id, Resources: r}, nil
}

// place makes the plan's cgroup with its limits and has cmd start in it
// (clone3's CLONE_INTO_CGROUP: no moment outside it). The returned
// function removes the cgroup once the sandbox has ended.
func (p *CgroupPlan) place(cmd *exec.Cmd) (func(), error) {
	if err := enable(p.Parent, limitControllers(p.Resources)); err != nil {
		return nil, err
	}
	dir := filepath.Join(p.Parent, "husk-"+p.ID)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("making the container's cgroup %s: %w: start it without limits, or fix the delegation", dir, err)
	}
	for file, v := range limitFiles(p.Resources) {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(v), 0); err != nil {
			os.Remove(dir)
			return nil, fmt.Errorf("setting %s to %s in %s: %w: give a limit the kernel takes", file, v, dir, err)
		}
	}
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("opening the container's cgroup %s: %w", dir, err)
	}
	cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
	return func() { unix.Close(fd); removeCgroup(dir) }, nil
}

// enable turns the controllers on for parent's children, where they are
// not yet.
func enable(parent string, need []string) error {
	on := fields(filepath.Join(parent, "cgroup.subtree_control"))
	var add []string
	for _, c := range need {
		if !slices.Contains(on, c) {
			add = append(add, "+"+c)
		}
	}
	if len(add) == 0 {
		return nil
	}
	if err := os.WriteFile(filepath.Join(parent, "cgroup.subtree_control"), []byte(strings.Join(add, " ")), 0); err != nil {
		return fmt.Errorf("enabling %s in cgroup %s: %w: ask the admin to delegate them", strings.Join(add, " "), parent, err)
	}
	return nil
}

// limitFiles are the cgroup v2 files r's limits are written to.
func limitFiles(r *specs.LinuxResources) map[string]string {
	out := map[string]string{}
	if r.Memory != nil && r.Memory.Limit != nil {
		out["memory.max"] = strconv.FormatInt(*r.Memory.Limit, 10)
	}
	if r.CPU != nil && r.CPU.Quota != nil && r.CPU.Period != nil {
		out["cpu.max"] = fmt.Sprintf("%d %d", *r.CPU.Quota, *r.CPU.Period)
	}
	if r.CPU != nil && r.CPU.Cpus != "" {
		out["cpuset.cpus"] = r.CPU.Cpus
	}
	if r.Pids != nil && r.Pids.Limit != nil && *r.Pids.Limit > 0 {
		out["pids.max"] = strconv.FormatInt(*r.Pids.Limit, 10)
	}
	return out
}

// removeCgroup removes a container's cgroup once its last process has
// gone, which may lag its init's exit a little.
func removeCgroup(dir string) {
	for i := 0; i < 50; i++ {
		if err := unix.Rmdir(dir); err == nil || errors.Is(err, unix.ENOENT) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
