package cli

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"golang.org/x/term"

	"husk/store/container"
)

// StatsCmd is `husk stats`: what each container's processes use, read from
// /proc as Docker reads its cgroups. Without a delegated cgroup there is
// no limit, so the memory limit is the host's.
type StatsCmd struct {
	All        bool     `short:"a" help:"Show all containers (default: running ones)."`
	NoStream   bool     `name:"no-stream" help:"Print one sample and exit."`
	NoTrunc    bool     `name:"no-trunc" help:"Do not truncate IDs."`
	Format     string   `help:"Go template per container, 'table TEMPLATE', or json."`
	Containers []string `arg:"" optional:"" name:"container" help:"Container names or IDs (default: every running one)."`
}

// statsRow has Docker's field names, for --format.
type statsRow struct {
	ID        string `header:"CONTAINER ID"`
	Container string
	Name      string
	CPUPerc   string `header:"CPU %"`
	MemUsage  string `header:"MEM USAGE / LIMIT"`
	MemPerc   string `header:"MEM %"`
	NetIO     string `header:"NET I/O"`
	BlockIO   string `header:"BLOCK I/O"`
	PIDs      string
}

const statsTable = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"

// statsInterval is the time between the two samples a CPU figure needs.
const statsInterval = 500 * time.Millisecond

func (c *StatsCmd) Run(g *Globals) error {
	cts, err := c.containers()
	if err != nil {
		return err
	}
	format := c.Format
	if format == "" {
		format = statsTable
	}
	tty := term.IsTerminal(int(os.Stdout.Fd()))
	before := sampleAll(cts)
	for {
		select {
		case <-g.Ctx.Done():
			return nil
		case <-time.After(statsInterval):
		}
		after := sampleAll(cts)
		rows := make([]statsRow, len(cts))
		for i, ct := range cts {
			rows[i] = c.row(ct, before[i], after[i])
		}
		if !c.NoStream && tty {
			fmt.Fprint(g.Stdout, "\033[2J\033[H") // a screen of its own per sample, as docker stats
		}
		if err := printFormatted(g.Stdout, format, rows); err != nil || c.NoStream {
			return err
		}
		before = after
	}
}

func (c *StatsCmd) containers() ([]*container.Container, error) {
	cs, err := container.OpenDefault()
	if err != nil {
		return nil, err
	}
	if len(c.Containers) == 0 {
		all, err := cs.List()
		var out []*container.Container
		for _, ct := range all {
			if c.All || ct.Live() {
				out = append(out, ct)
			}
		}
		return out, err
	}
	var out []*container.Container
	for _, q := range c.Containers {
		ct, err := cs.Find(q)
		if err != nil {
			return nil, fmt.Errorf("stats %s: %w", q, err)
		}
		out = append(out, ct)
	}
	return out, nil
}

// usage is one sample of a container's processes.
type usage struct {
	at              time.Time
	ticks, rssPages uint64
	pids            int
	rx, tx, rd, wr  uint64
}

func sampleAll(cts []*container.Container) []usage {
	out := make([]usage, len(cts))
	for i, ct := range cts {
		out[i].at = time.Now()
		if !ct.Live() || !ct.InitAlive() {
			continue
		}
		for _, p := range container.Processes(ct.InitPID) {
			t, rss := container.Usage(p)
			out[i].ticks += t
			out[i].rssPages += rss
			out[i].pids++
			rd, wr := blockIO(p)
			out[i].rd += rd
			out[i].wr += wr
		}
		out[i].rx, out[i].tx = netIO(ct.InitPID)
	}
	return out
}

func (c *StatsCmd) row(ct *container.Container, a, b usage) statsRow {
	id := ct.ID
	if !c.NoTrunc {
		id = id[:12]
	}
	limit := memLimit("/sys/fs/cgroup", fmt.Sprintf("/proc/%d/cgroup", ct.InitPID), memTotal())
	mem := b.rssPages * uint64(os.Getpagesize())
	cpu := 0.0
	if dt := b.at.Sub(a.at).Seconds(); dt > 0 && b.ticks >= a.ticks {
		cpu = float64(b.ticks-a.ticks) / clockTicks / dt * 100
	}
	memPerc := 0.0
	if limit > 0 {
		memPerc = float64(mem) / float64(limit) * 100
	}
	return statsRow{ID: id, Container: ct.Name, Name: ct.Name,
		CPUPerc:  fmt.Sprintf("%.2f%%", cpu),
		MemUsage: units.BytesSize(float64(mem)) + " / " + units.BytesSize(float64(limit)),
		MemPerc:  fmt.Sprintf("%.2f%%", memPerc),
		NetIO:    units.HumanSizeWithPrecision(float64(b.rx), 3) + " / " + units.HumanSizeWithPrecision(float64(b.tx), 3),
		BlockIO:  units.HumanSizeWithPrecision(float64(b.rd), 3) + " / " + units.HumanSizeWithPrecision(float64(b.wr), 3),
		PIDs:     strconv.Itoa(b.pids)}
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture husk builds for.
const clockTicks = 100

// netIO sums the bytes through the container's interfaces but lo, as seen
// from its init's network namespace.
func netIO(init int) (rx, tx uint64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/net/dev", init))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(name) == "lo" {
			continue
		}
		if fs := strings.Fields(rest); len(fs) >= 9 {
			r, _ := strconv.ParseUint(fs[0], 10, 64)
			t, _ := strconv.ParseUint(fs[8], 10, 64)
			rx, tx = rx+r, tx+t
		}
	}
	return rx, tx
}

// blockIO is what a process read from and wrote to storage; its io file is
// readable for processes of the user's own uid only, others count as 0.
func blockIO(pid int) (rd, wr uint64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(l, ": ")
		n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		switch k {
		case "read_bytes":
			rd = n
		case "write_bytes":
			wr = n
		}
	}
	return rd, wr
}

// memTotal is the host's memory in bytes, the limit of a container no
// cgroup limits.
func memTotal() uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// memLimit is the memory limit of the process whose /proc/PID/cgroup is
// procCgroup: the lowest memory.max on its cgroup v2 path under root (its
// own --memory, or a Slurm job's), else host, the host's memory.
func memLimit(root, procCgroup string, host uint64) uint64 {
	b, err := os.ReadFile(procCgroup)
	if err != nil {
		return host
	}
	limit := host
	for _, l := range strings.Split(string(b), "\n") {
		rel, ok := strings.CutPrefix(l, "0::")
		if !ok {
			continue
		}
		for dir := filepath.Join(root, filepath.Clean("/"+rel)); strings.HasPrefix(dir, root) && dir != root; dir = filepath.Dir(dir) {
			v, err := os.ReadFile(filepath.Join(dir, "memory.max"))
			if n, perr := strconv.ParseUint(strings.TrimSpace(string(v)), 10, 64); err == nil && perr == nil && n < limit {
				limit = n
			}
		}
	}
	return limit
}
