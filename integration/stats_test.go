package integration

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// husk stats: a busy container's CPU, an idle one's processes (run as a
// uid of the subuid ranges where there are some), memory
// against the host's, Docker's table and fields.
func TestStats(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.detached([]string{"--name", "busy"}, ref, "sh", "-c", "while :; do :; done")
	defer e.out("rm", "-f", "busy")
	idle := []string{"--name", "idle"}
	if me.Subuid {
		idle = append(idle, "-u", "1000") // a uid of the ranges: not the user's own
	}
	e.detached(idle, ref, "sh", "-c", "sleep 100 & sleep 100 & wait")
	defer e.out("rm", "-f", "idle")

	got := map[string][]string{}
	for _, l := range lines(e.out("stats", "--no-stream", "--format", "{{.Name}}|{{.CPUPerc}}|{{.PIDs}}|{{.MemUsage}}|{{.MemPerc}}")) {
		f := strings.Split(l, "|")
		got[f[0]] = f
	}
	cpu := func(name string) float64 {
		v, _ := strconv.ParseFloat(strings.TrimSuffix(got[name][1], "%"), 64)
		return v
	}
	if len(got) != 2 || cpu("busy") < 20 || cpu("idle") > 5 {
		t.Errorf("want busy near a whole CPU and idle near none: %q", got)
	}
	if got["idle"][2] != "3" || got["busy"][2] != "1" {
		t.Errorf("want 3 processes in idle (sh and two sleeps, as uid 1000) and 1 in busy: %q", got)
	}
	if !regexp.MustCompile(`^[0-9.]+[KMG]?i?B / [0-9.]+[KMG]iB$`).MatchString(got["busy"][3]) {
		t.Errorf("MEM USAGE / LIMIT: %q", got["busy"][3])
	}
	table := lines(e.out("stats", "--no-stream", "busy"))
	if len(table) != 2 || !regexp.MustCompile(`^CONTAINER ID +NAME +CPU % +MEM USAGE / LIMIT +MEM % +NET I/O +BLOCK I/O +PIDS$`).MatchString(table[0]) {
		t.Errorf("stats busy: want Docker's header and one row: %q", table)
	}
	var row map[string]string
	if err := json.Unmarshal([]byte(e.out("container", "stats", "--no-stream", "--format", "json", "idle")), &row); err != nil || row["Name"] != "idle" || row["PIDs"] != "3" {
		t.Errorf("container stats --format json: %v %v", row, err)
	}
	e.wantError(e.run("stats", "--no-stream", "no-such-container"), "no-such-container")
}
