package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"husk/monitor/logfile"
	"husk/sandbox"
	"husk/store/container"
)

// LogsCmd is `husk logs`.
type LogsCmd struct {
	Follow     bool   `short:"f" help:"Follow the log until the container stops."`
	Tail       string `short:"n" default:"all" help:"Number of lines from the end, or all."`
	Timestamps bool   `short:"t" help:"Show timestamps."`
	Since      string `help:"Only entries since a time: RFC 3339, Unix seconds, or a duration before now (10m)."`
	Container  string `arg:"" help:"Container name or ID."`
}

func (c *LogsCmd) Run(g *Globals) error {
	o := logfile.ReadOptions{Tail: -1, Follow: c.Follow}
	if c.Tail != "all" {
		n, err := strconv.Atoi(c.Tail)
		if err != nil {
			return fmt.Errorf("invalid --tail %q: give a number or all", c.Tail)
		}
		o.Tail = n
	}
	if c.Since != "" {
		t, err := parseSince(c.Since)
		if err != nil {
			return err
		}
		o.Since = t
	}
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	ct, err := cs.Find(c.Container)
	if err != nil {
		return fmt.Errorf("logs %s: %w", c.Container, err)
	}
	if ct.Config.Log.Driver == sandbox.LogNone {
		return fmt.Errorf("logs %s: the container's log driver is none, so no logs are available: run it with --log-driver json-file to keep them", c.Container)
	}
	if c.Follow {
		stop := make(chan struct{})
		o.Stop = stop
		go watchStop(cs, ct.ID, stop)
	}
	return logfile.Read(g.Ctx, ct.LogPath(), o, func(e logfile.Entry) error {
		w := g.Stdout
		if e.Stream == "stderr" {
			w = g.Stderr
		}
		return c.write(w, e)
	})
}

func (c *LogsCmd) write(w io.Writer, e logfile.Entry) error {
	if c.Timestamps {
		if _, err := io.WriteString(w, e.Time.UTC().Format(time.RFC3339Nano)+" "); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, e.Log)
	return err
}

// watchStop closes stop once the container is no longer running.
func watchStop(cs *container.Store, id string, stop chan struct{}) {
	defer close(stop)
	for {
		ct, err := cs.Find(id)
		if err != nil || !ct.Live() {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// parseSince reads Docker's --since: a timestamp, Unix seconds, or a
// duration before now.
func parseSince(s string) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
	}
	return time.Time{}, fmt.Errorf("invalid --since %q: give an RFC 3339 time, Unix seconds, or a duration such as 10m", strings.TrimSpace(s))
}
