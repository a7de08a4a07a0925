package cli

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	units "github.com/docker/go-units"

	"husk/store/container"
	"husk/userns"
)

// ContainerCmd is `husk container`: Docker's management forms, each the
// same command as the short verb.
type ContainerCmd struct {
	ContainerVerbs `embed:""`
	Ls             PsCmd     `cmd:"" aliases:"list,ps" help:"List containers."`
	Prune          PruneCmd  `cmd:"" help:"Remove all stopped containers."`
	Commit         CommitCmd `cmd:"" help:"Make an image of a container's changes."`
	Cp             CpCmd     `cmd:"" help:"Copy files between a container and the host."`
	Diff           DiffCmd   `cmd:"" help:"List the files a container added (A), changed (C) and deleted (D)."`
	Export         ExportCmd `cmd:"" help:"Write a container's filesystem as a tar."`
}

// ContainerVerbs are the container commands, at the top (husk run) and
// under husk container (husk container run) alike.
type ContainerVerbs struct {
	Run     RunCmd     `cmd:"" help:"Run a command in a new container."`
	Create  CreateCmd  `cmd:"" help:"Create a container without starting it."`
	Start   StartCmd   `cmd:"" help:"Start one or more containers."`
	Stop    StopCmd    `cmd:"" help:"Stop one or more running containers."`
	Restart RestartCmd `cmd:"" help:"Restart one or more containers."`
	Kill    KillCmd    `cmd:"" help:"Send a signal to one or more running containers."`
	Pause   PauseCmd   `cmd:"" help:"Freeze every process of one or more containers."`
	Unpause UnpauseCmd `cmd:"" help:"Resume the processes of one or more paused containers."`
	Attach  AttachCmd  `cmd:"" help:"Attach to a running container's input and output."`
	Exec    ExecCmd    `cmd:"" help:"Run a command in a running container."`
	Logs    LogsCmd    `cmd:"" help:"Show a container's log."`
	Rename  RenameCmd  `cmd:"" help:"Rename a container."`
	Rm      RmCmd      `cmd:"" help:"Remove one or more containers."`
	Wait    WaitCmd    `cmd:"" help:"Wait for containers to stop and print their exit codes."`
	Inspect InspectCmd `cmd:"" help:"Show containers (or images) as JSON."`
	Top     TopCmd     `cmd:"" help:"Show a container's processes."`
	Port    PortCmd    `cmd:"" help:"List a container's published ports."`
	Stats   StatsCmd   `cmd:"" help:"Show what containers use: CPU, memory, network, block I/O, processes."`
}

// PruneCmd is `husk container prune`.
type PruneCmd struct {
	Force bool `short:"f" help:"Do not ask for confirmation."`
}

func (c *PruneCmd) Run(g *Globals) error {
	if !c.Force && !userns.Reexecuted() {
		fmt.Fprint(g.Stderr, "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ")
		answer, _ := bufio.NewReader(os.Stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return nil
		}
	}
	if err := userns.Enter(g.Ctx); err != nil {
		return err
	}
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	freed, err := pruneContainers(g, cs)
	if err != nil {
		return err
	}
	fmt.Fprintln(g.Stdout, "Total reclaimed space: "+units.HumanSizeWithPrecision(float64(freed), 3))
	return nil
}

// pruneContainers removes every container not running, in husk's
// namespace, prints their IDs under Docker's header and returns the space
// freed.
func pruneContainers(g *Globals, cs *container.Store) (int64, error) {
	all, err := cs.List()
	if err != nil {
		return 0, err
	}
	var freed int64
	header := true
	for _, ct := range all {
		if ct.Live() {
			continue
		}
		size := diskUsage(ct.Dir())
		if err := cs.Remove(ct, false, g.StorageDriver); err != nil {
			return freed, fmt.Errorf("container prune: %s: %w", ct.Name, err)
		}
		if header {
			fmt.Fprintln(g.Stdout, "Deleted Containers:")
			header = false
		}
		fmt.Fprintln(g.Stdout, ct.ID)
		freed += size
	}
	if !header {
		fmt.Fprintln(g.Stdout)
	}
	return freed, nil
}
