package cli

import (
	"bytes"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	"husk/store/container"
)

// TopCmd is `husk top`: the host's ps, limited to the container's
// processes, as Docker does it.
type TopCmd struct {
	Container string   `arg:"" help:"Container name or ID."`
	PsArgs    []string `arg:"" optional:"" passthrough:"" name:"ps-options" help:"Options for ps (default: -ef)."`
}

func (c *TopCmd) Run(g *Globals) error {
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	ct, err := cs.Find(c.Container)
	if err != nil {
		return fmt.Errorf("top %s: %w", c.Container, err)
	}
	if !ct.Live() || !ct.InitAlive() {
		return fmt.Errorf("top %s: %w", c.Container, container.ErrNotRunning)
	}
	pids := map[string]bool{}
	for _, p := range container.Processes(ct.InitPID) {
		pids[strconv.Itoa(p)] = true
	}
	args := c.PsArgs
	if len(args) == 0 {
		args = []string{"-ef"}
	}
	out, err := exec.Command("ps", args...).Output()
	if err != nil {
		return fmt.Errorf("top %s: running ps %s: %w: install procps, or check the ps options", c.Container, strings.Join(args, " "), err)
	}
	return printPsRows(g, out, pids)
}

// printPsRows prints ps's header and the rows whose PID column is one of
// pids.
func printPsRows(g *Globals, out []byte, pids map[string]bool) error {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	col := -1
	for i, f := range strings.Fields(lines[0]) {
		if f == "PID" {
			col = i
		}
	}
	if col < 0 {
		return fmt.Errorf("top: ps printed no PID column: give ps options that include it (e.g. -ef)")
	}
	var b bytes.Buffer
	b.WriteString(lines[0] + "\n")
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > col && pids[f[col]] {
			b.WriteString(l + "\n")
		}
	}
	_, err := g.Stdout.Write(b.Bytes())
	return err
}
