package main

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// goalSrun is issue 16's: `srun -n2 husk run --rm IMAGE true` at most
// 1.5 times `srun -n2 true`.
const goalSrun = 1.5

// benchSrun times a two-rank step on the harness's Slurm (prepare.sh
// starts it): srun -n2 true, then each rank a husk run (--rm: a container
// each; --join step: one for the node), interleaved; medians.
func benchSrun(h *starter, ref string) {
	const runs = 7
	if _, err := exec.LookPath("srun"); err != nil {
		fmt.Println("\nsrun: skipped: no srun (make bench as root runs prepare.sh, which starts Slurm)")
		return
	}
	takes := func(s string) bool {
		return strings.Contains(s, "idle") || strings.Contains(s, "mix") || strings.Contains(s, "alloc")
	}
	if out, err := exec.Command("sinfo", "-h", "-o", "%T").Output(); err != nil || !takes(string(out)) {
		fmt.Printf("\nsrun: skipped: Slurm has no node taking jobs (sinfo: %q, %v)\n", out, err)
		return
	}
	bin := h.argv[0]
	cases := []struct {
		name string
		args []string
	}{
		{"srun -n2 true", []string{"-n2", "true"}},
		{"husk --rm", []string{"-n2", bin, "run", "--rm", "--network", "none", ref, "true"}},
		{"husk --join", []string{"-n2", bin, "run", "--join", "step", "--network", "none", ref, "true"}},
	}
	times := make([][]time.Duration, len(cases))
	fmt.Printf("\nsrun: a two-rank step, %d runs each, interleaved; medians\n", runs)
	for range runs {
		for i, c := range cases {
			start := time.Now()
			if err := command(h.env, "srun", c.args...); err != nil {
				fmt.Printf("  %-14s failed: %v\n", c.name, err)
				return
			}
			times[i] = append(times[i], time.Since(start))
		}
	}
	med := make([]time.Duration, len(cases))
	for i, c := range cases {
		slices.Sort(times[i])
		med[i] = times[i][len(times[i])/2]
		fmt.Printf("  %-14s %8.1f ms  (min %.1f, max %.1f)\n", c.name, ms(med[i]), ms(times[i][0]), ms(times[i][len(times[i])-1]))
	}
	r := med[1].Seconds() / med[0].Seconds()
	fmt.Printf("  husk --rm / srun true = %.2f  (goal <= %.1f: %s)\n", r, goalSrun, verdict(r <= goalSrun))
	fmt.Printf("  husk --join / husk --rm = %.2f\n", med[2].Seconds()/med[1].Seconds())
}
