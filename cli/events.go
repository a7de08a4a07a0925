package cli

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"husk/store/container"
)

// EventsCmd is `husk events`: container lifecycle events. husk has no
// daemon to log them, so they are read from the records: the past from
// their create, start and finish times, the present by watching them.
type EventsCmd struct {
	Since  string   `help:"Show events since a time: RFC 3339, a Unix time, or a duration ago (10m)."`
	Until  string   `help:"Stop at a time (as --since); without it, follow until interrupted."`
	Filter []string `short:"f" help:"Filter: container=NAME|ID, event=create|start|die|destroy, image=IMAGE, type=container." placeholder:"KEY=VALUE"`
	Format string   `help:"Go template per event, or json."`
}

// event has Docker's field names, for --format.
type event struct {
	Type     string
	Action   string
	Actor    actor
	Time     int64 `json:"time"`
	TimeNano int64 `json:"timeNano"`
	// The older names Docker's templates still use.
	Status string `json:"status"`
	ID     string `json:"id"`
	From   string `json:"from"`
}

type actor struct {
	ID         string
	Attributes map[string]string
}

// eventsPoll is how often the records are read for new events.
const eventsPoll = 200 * time.Millisecond

func (c *EventsCmd) Run(g *Globals) error {
	now := time.Now()
	since, err := eventTime(c.Since, now, time.Time{})
	if err != nil {
		return err
	}
	until, err := eventTime(c.Until, now, time.Time{})
	if err != nil {
		return err
	}
	match, err := eventFilter(c.Filter)
	if err != nil {
		return err
	}
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	emit := func(evs []event) error {
		for _, ev := range evs {
			t := time.Unix(0, ev.TimeNano)
			if t.Before(since) || (!until.IsZero() && t.After(until)) || !match(ev) {
				continue
			}
			if err := c.print(g, ev); err != nil {
				return err
			}
		}
		return nil
	}
	seen, err := snapshot(cs)
	if err != nil {
		return err
	}
	if !since.IsZero() {
		var past []event
		for _, ct := range seen {
			past = append(past, history(ct)...)
		}
		if err := emit(sorted(past)); err != nil {
			return err
		}
	}
	for until.IsZero() || time.Now().Before(until) {
		select {
		case <-g.Ctx.Done():
			return nil
		case <-time.After(eventsPoll):
		}
		next, err := snapshot(cs)
		if err != nil {
			return err
		}
		if err := emit(sorted(changes(seen, next))); err != nil {
			return err
		}
		seen = next
	}
	return nil
}

func (c *EventsCmd) print(g *Globals, ev event) error {
	switch c.Format {
	case "":
		var attrs []string
		for _, k := range []string{"exitCode", "image", "name"} {
			if v, ok := ev.Actor.Attributes[k]; ok {
				attrs = append(attrs, k+"="+v)
			}
		}
		_, err := fmt.Fprintf(g.Stdout, "%s %s %s %s (%s)\n", time.Unix(0, ev.TimeNano).UTC().Format(time.RFC3339Nano),
			ev.Type, ev.Action, ev.Actor.ID, strings.Join(attrs, ", "))
		return err
	default:
		return printFormatted(g.Stdout, c.Format, []event{ev})
	}
}

func snapshot(cs *container.Store) (map[string]*container.Container, error) {
	all, err := cs.List()
	out := map[string]*container.Container{}
	for _, ct := range all {
		out[ct.ID] = ct
	}
	return out, err
}

// history are the events a record still shows: its creation, its last
// start and, when it ended, its death.
func history(ct *container.Container) []event {
	evs := []event{newEvent(ct, "create", ct.Created)}
	if !ct.StartedAt.IsZero() {
		evs = append(evs, newEvent(ct, "start", ct.StartedAt))
	}
	if ct.State.Status == container.Exited && !ct.FinishedAt.IsZero() {
		evs = append(evs, newEvent(ct, "die", ct.FinishedAt))
	}
	return evs
}

// changes are the events between two snapshots of the records.
func changes(before, after map[string]*container.Container) []event {
	var evs []event
	for id, ct := range after {
		old, ok := before[id]
		switch {
		case !ok:
			evs = append(evs, history(ct)...)
		default:
			if !ct.StartedAt.Equal(old.StartedAt) && !ct.StartedAt.IsZero() {
				evs = append(evs, newEvent(ct, "start", ct.StartedAt))
			}
			if ct.State.Status == container.Exited && !ct.FinishedAt.Equal(old.FinishedAt) {
				evs = append(evs, newEvent(ct, "die", ct.FinishedAt))
			}
		}
	}
	for id, ct := range before {
		if _, ok := after[id]; !ok {
			// Ended and removed between two reads: its death, without the
			// code the record took with it, then its removal.
			if ct.State.Status != container.Exited && !ct.StartedAt.IsZero() {
				die := newEvent(ct, "die", time.Now())
				delete(die.Actor.Attributes, "exitCode")
				evs = append(evs, die)
			}
			evs = append(evs, newEvent(ct, "destroy", time.Now()))
		}
	}
	return evs
}

func newEvent(ct *container.Container, action string, at time.Time) event {
	attrs := map[string]string{"image": ct.Config.Image, "name": ct.Name}
	if action == "die" {
		attrs["exitCode"] = fmt.Sprint(ct.ExitCode)
	}
	return event{Type: "container", Action: action, Actor: actor{ID: ct.ID, Attributes: attrs},
		Time: at.Unix(), TimeNano: at.UnixNano(), Status: action, ID: ct.ID, From: ct.Config.Image}
}

func sorted(evs []event) []event {
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].TimeNano < evs[j].TimeNano })
	return evs
}

// eventTime reads --since and --until: RFC 3339, a Unix time, or a
// duration before now; "" gives dflt.
func eventTime(s string, now, dflt time.Time) (time.Time, error) {
	if s == "" {
		return dflt, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	var sec, nsec int64
	if n, _ := fmt.Sscanf(s, "%d.%d", &sec, &nsec); n >= 1 {
		return time.Unix(sec, nsec), nil
	}
	return time.Time{}, fmt.Errorf("invalid time %q: use RFC 3339 (2026-01-02T15:04:05Z), a Unix time, or a duration such as 10m", s)
}

// eventFilter reads --filter KEY=VALUE by Docker's rule: values of one key
// are alternatives, keys must all hold.
func eventFilter(specs []string) (func(event) bool, error) {
	by := map[string][]string{}
	for _, f := range specs {
		k, v, ok := strings.Cut(f, "=")
		if !ok || (k != "container" && k != "event" && k != "image" && k != "type") {
			return nil, fmt.Errorf("invalid --filter %q: use container=, event=, image= or type=", f)
		}
		by[k] = append(by[k], v)
	}
	test := map[string]func(event, string) bool{
		"container": func(e event, v string) bool {
			return e.Actor.Attributes["name"] == v || strings.HasPrefix(e.Actor.ID, v)
		},
		"event": func(e event, v string) bool { return e.Action == v },
		"image": func(e event, v string) bool { return e.Actor.Attributes["image"] == v },
		"type":  func(e event, v string) bool { return e.Type == v },
	}
	return func(e event) bool {
		for k, vs := range by {
			if !anyOf(vs, func(v string) bool { return test[k](e, v) }) {
				return false
			}
		}
		return true
	}, nil
}
