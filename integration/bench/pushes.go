package main

import (
	"fmt"
	"slices"
	"time"
)

// timePushes times each tool pushing the image ref, which it pulled into
// its store number i, to a new repository of the same registry per run
// (so that every blob is sent), the tools in turn; it returns medians.
func timePushes(tools []*tool, ref, registry string, i, runs int) (map[string]time.Duration, map[string]error) {
	times := map[string][]time.Duration{}
	failed := map[string]error{}
	for r := range runs {
		for _, t := range tools {
			if t.missing != "" || t.push == nil || failed[t.name] != nil {
				continue
			}
			dst := fmt.Sprintf("%s/pushed-%s-%d:latest", registry, t.name, r)
			d, err := t.push(ref, dst, i)
			if err != nil {
				failed[t.name] = err
				continue
			}
			times[t.name] = append(times[t.name], d)
		}
	}
	med := map[string]time.Duration{}
	for name, ds := range times {
		if failed[name] == nil {
			slices.Sort(ds)
			med[name] = ds[len(ds)/2]
		}
	}
	return med, failed
}

// timed runs a command and returns how long it took.
func timed(env []string, bin string, args ...string) (time.Duration, error) {
	start := time.Now()
	err := command(env, bin, args...)
	return time.Since(start), err
}

// reportPushes prints the push figures of one image.
func reportPushes(tools []*tool, ref, registry string, i, runs int) {
	fmt.Printf("  push to a new repository (%d runs, medians):\n", runs)
	med, failed := timePushes(tools, ref, registry, i, runs)
	for _, t := range tools {
		switch {
		case t.missing != "" || t.push == nil:
		case failed[t.name] != nil:
			fmt.Printf("    %-7s failed: %v\n", t.name, failed[t.name])
		default:
			fmt.Printf("    %-7s %6.2f s%s\n", t.name, med[t.name].Seconds(), t.pushNote)
		}
	}
	h, ok := med["husk"]
	if !ok {
		return
	}
	for _, ref := range []string{"podman", "skopeo"} {
		if d, ok := med[ref]; ok {
			fmt.Printf("    husk push/%s = %.2f\n", ref, h.Seconds()/d.Seconds())
		}
	}
	if d, ok := med["podman"]; ok {
		verdict := "met"
		if h.Seconds() > d.Seconds()/2 {
			verdict = "NOT met"
		}
		fmt.Printf("    goal husk push <= 0.5 x podman push: %s\n", verdict)
	}
}
