package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"husk/integration"
)

// timePushes times each tool pushing the image ref, which it pulled into
// its store number i, to a new repository of the registry that registry
// gives for each push, the tools in turn; it returns medians. Where that
// is the one ref came from, the tools mount its blobs from ref's
// repository and send none; to a registry of its own each push sends
// every blob (no other tool's push is there to mount from).
func timePushes(tools []*tool, ref string, registry func() (string, func(), error), i, runs int) (map[string]time.Duration, map[string]error) {
	times := map[string][]time.Duration{}
	failed := map[string]error{}
	for r := range runs {
		for _, t := range tools {
			if t.missing != "" || t.push == nil || failed[t.name] != nil {
				continue
			}
			addr, stop, err := registry()
			if err != nil {
				failed[t.name] = err
				continue
			}
			dst := fmt.Sprintf("%s/pushed-%s-%d:latest", addr, t.name, r)
			d, err := t.push(ref, dst, i)
			stop()
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

// reportPushes prints the push figures of one image; what says where to.
func reportPushes(tools []*tool, ref string, registry func() (string, func(), error), what string, i, runs int) {
	fmt.Printf("  push to %s (%d runs, medians):\n", what, runs)
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

// sameRegistry gives every push the registry at addr.
func sameRegistry(addr string) func() (string, func(), error) {
	return func() (string, func(), error) { return addr, func() {}, nil }
}

// freshRegistry gives every push a new, empty registry in work.
func freshRegistry(work string) func() (string, func(), error) {
	n := 0
	return func() (string, func(), error) {
		n++
		r, err := integration.StartRegistry(filepath.Join(work, fmt.Sprintf("registry-push-%d", n)), integration.RegistryOptions{})
		if err != nil {
			return "", nil, err
		}
		return r.Addr, func() { _ = r.Stop() }, nil
	}
}
