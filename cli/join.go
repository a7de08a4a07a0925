package cli

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"husk/sandbox"
	"husk/store"
	"husk/store/container"
)

// runJoined is `run --join NAME`: under the join lock, the container named
// NAME is found running, or created and started with an init that only
// holds it (sandbox.Spec.Hold); this task's command runs in it as an exec,
// with its own exit code, streams and signals; the last task out stops it,
// and its monitor removes it (--rm). Tasks are counted by their live
// processes (container.LiveMembers): one killed with -9 stops counting,
// and the monitor ends the container when none lives.
func (c *RunCmd) runJoined(g *Globals) error {
	if c.Detach || c.TTY {
		return fmt.Errorf("conflicting options: --join runs each task's command in the foreground, without a terminal: drop -d and -t")
	}
	if c.Name != "" || c.Restart != "no" {
		return fmt.Errorf("conflicting options: --join names the container and removes it after its last task: drop --name and --restart")
	}
	name, err := joinName(c.Join)
	if err != nil {
		return err
	}
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	unlock, err := cs.JoinLock()
	if err != nil {
		return err
	}
	ct, err := c.joinedContainer(g, cs, name)
	if err == nil {
		err = container.AddMember(ct.ID)
	}
	unlock()
	if err != nil {
		return err
	}
	code, err := c.execJoined(ct)
	leaveJoined(cs, ct.ID)
	if err != nil {
		return &ExitError{Code: code, Err: fmt.Errorf("run --join %s: %w", name, err)}
	}
	return &ExitError{Code: code}
}

// joinName is the container's name for a --join key: "step" is the Slurm
// step's own, slurm-JOB.STEP.
func joinName(key string) (string, error) {
	if key != "step" {
		return key, nil
	}
	s := slurmStep()
	if s == nil {
		return "", fmt.Errorf("--join step names the Slurm step's container, and husk runs in no step (SLURM_JOB_ID and SLURM_STEP_ID are unset): give a name")
	}
	return "slurm-" + s.JobID + "." + s.StepID, nil
}

// joinedContainer is the running container name, else a new one. It is
// called under the join lock.
func (c *RunCmd) joinedContainer(g *Globals, cs *container.Store, name string) (*container.Container, error) {
	ct, err := cs.Find(name)
	switch {
	case errors.Is(err, container.ErrNoSuchContainer):
	case err != nil:
		return nil, err
	case ct.Config.Join == "":
		return nil, fmt.Errorf("run --join %s: a container of that name exists, not made by --join: choose another name, or remove it (husk rm -f %s)", name, name)
	case ct.Live() && ct.InitAlive() && !ct.Stopped:
		return ct, nil
	default:
		// Stopped by its last task or its monitor: gone in a moment.
		if !waitGone(cs, ct.ID) {
			container.Discard(g.Ctx, g.StorageDriver, ct.ID)
		}
	}
	f := c.ContainerFlags
	f.Name, f.Rm, f.join = name, true, name
	ct, err = createContainer(g, &f, c.Image, nil)
	if err != nil {
		return nil, err
	}
	if err := startMonitor(ct); err != nil {
		container.Discard(g.Ctx, g.StorageDriver, ct.ID)
		return nil, err
	}
	return cs.Find(ct.ID)
}

// execJoined runs this task's command in the container, as husk exec
// does, with this task's own environment (its Slurm rank's variables, its
// -e) over the container's.
func (c *RunCmd) execJoined(ct *container.Container) (int, error) {
	e := ExecCmd{Cmd: c.Cmd, User: c.User, Workdir: c.Workdir, Interactive: c.Interactive}
	spec, err := e.spec(ct.ID)
	if err != nil {
		return 125, err
	}
	own, err := c.env()
	if err != nil {
		return 125, err
	}
	spec.Env = mergeEnv(spec.Env, append(c.hostEnv(slurmStep()), own...))
	if len(spec.Args) == 0 {
		return 125, fmt.Errorf("no command: the image has no entrypoint or cmd: give one after the image name")
	}
	o := sandbox.Options{}
	if c.Interactive {
		o.Stdin = os.Stdin
	}
	return sandbox.Exec(ct.InitPID, ct.ID, spec, o, container.ExecBindsPath(ct.ID))
}

// leaveJoined drops this task; the last one stops the container and waits
// until its monitor has removed it.
func leaveJoined(cs *container.Store, id string) {
	unlock, err := cs.JoinLock()
	if err != nil {
		return
	}
	defer unlock()
	container.DropMember(id)
	if container.LiveMembers(id) > 0 {
		return
	}
	if ct, err := cs.Find(id); err == nil {
		_ = cs.Kill(ct, unix.SIGKILL)
	}
	waitGone(cs, id)
}

// waitGone waits until the container's record and its monitor are gone.
func waitGone(cs *container.Store, id string) bool {
	monitor := 0
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		ct, err := cs.Find(id)
		if err == nil {
			monitor = ct.MonitorPID
			continue
		}
		if monitor == 0 || !store.PidRunning(monitor) {
			return true
		}
	}
	return false
}
