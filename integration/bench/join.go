package main

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// benchJoin is the per-node start of a step's two ranks (issue 16): two
// concurrent `husk run --join NAME IMAGE true`, which share one container,
// against two concurrent `husk run --rm IMAGE true`, a container each.
func benchJoin(h *starter, ref string) {
	const runs = 9
	bin := h.argv[0]
	pair := func(args ...string) (time.Duration, error) {
		start := time.Now()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = command(h.env, bin, args...) }()
		}
		wg.Wait()
		return time.Since(start), errorsOf(errs)
	}
	cases := []struct {
		name string
		args []string
	}{
		{"--rm", []string{"run", "--rm", "--network", "none", ref, "true"}},
		{"--join", []string{"run", "--join", "bench", "--network", "none", ref, "true"}},
	}
	fmt.Printf("\njoin: two concurrent starts of %s true, %d runs each; medians\n", ref, runs)
	for _, c := range cases {
		var times []time.Duration
		for range runs {
			d, err := pair(c.args...)
			if err != nil {
				fmt.Printf("  %-7s failed: %v\n", c.name, err)
				times = nil
				break
			}
			times = append(times, d)
		}
		if len(times) > 0 {
			slices.Sort(times)
			fmt.Printf("  %-7s %8.1f ms  (min %.1f, max %.1f)\n", c.name, ms(times[len(times)/2]), ms(times[0]), ms(times[len(times)-1]))
		}
	}
}

func errorsOf(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
