package integration

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// husk events: the past from the records (--since, --until), the present
// as it happens, Docker's line and fields, filters.
func TestEvents(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	id := e.out("create", "--name", "ev1", ref, "true")
	e.out("start", "-a", "ev1")
	past := lines(e.out("events", "--since", "10m", "--until", time.Now().Add(time.Second).Format(time.RFC3339Nano)))
	want := []string{"create", "start", "die"}
	if len(past) != 3 {
		t.Fatalf("events --since 10m: want create, start and die of ev1: %q", past)
	}
	for i, l := range past {
		re := `^\d{4}-\d\d-\d\dT[0-9:.]+Z container ` + want[i] + ` ` + id + ` \((exitCode=0, )?image=` + regexp.QuoteMeta(ref) + `, name=ev1\)$`
		if !regexp.MustCompile(re).MatchString(l) {
			t.Errorf("event %d: %q, want it to match %s", i, l, re)
		}
	}

	// Live: a container made, ended and removed while events follows.
	done := make(chan result, 1)
	until := time.Now().Add(8 * time.Second).Format(time.RFC3339Nano)
	go func() {
		done <- e.run("events", "--until", until, "--filter", "container=ev2", "--format", "{{.Action}} {{.Actor.Attributes.name}} {{index .Actor.Attributes \"exitCode\"}}")
	}()
	time.Sleep(time.Second)
	e.detached([]string{"--name", "ev2"}, ref, "sh", "-c", "exit 3")
	e.out("wait", "ev2")
	// events reads the records every 200 ms: give it one read of the end
	// before the record goes.
	time.Sleep(time.Second)
	e.out("rm", "ev2")
	r := <-done
	got := strings.Join(lines(r.stdout), "|")
	if r.code != 0 || got != "create ev2 |start ev2 |die ev2 3|destroy ev2 " {
		t.Errorf("events while ev2 lived: want create, start, die (3) and destroy: %q %s", got, r)
	}
	e.wantError(e.run("events", "--filter", "color=red"), "color=red")
	e.wantError(e.run("events", "--since", "yesterday"), "yesterday")
	e.out("rm", "ev1")
}
