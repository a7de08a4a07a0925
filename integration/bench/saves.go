package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"husk/integration"
)

// The save/load bench (issue 14): `husk save` of an image from a warm
// store to a docker-archive file, then `husk load` of that file into an
// empty store, against `podman save` and `podman load` of the same image
// in the same run. The goal is at most 0.5 x podman's time for each.

var onlySave = flag.Bool("only-save", false, "run only the push bench (the one-layer image) and the save/load bench (the five-layer image)")

// loadBase numbers the stores a load goes into, apart from the pulls'.
const loadBase = 1000

// benchSaveOnly pulls both images into store 0 of each tool (not timed),
// then reports the push of the one-layer image (the 60 MB of issue 14)
// and the save and load of the multi-layer one. The caller has pushed
// both to reg.
func benchSaveOnly(tools []*tool, imgs []benchImage, work string, reg *integration.Registry, runs int) error {
	defer cleanAll(tools, 1)
	for _, bi := range imgs {
		ref := reg.Ref(bi.repo)
		for _, t := range tools {
			if t.missing == "" {
				if err := t.pull(ref, 0); err != nil {
					t.missing = "pull failed: " + err.Error()
				}
			}
		}
	}
	single, five := imgs[0], imgs[1]
	fmt.Printf("\n%s: %d layer(s), %.1f MB compressed\n", single.name, single.layers, float64(single.size)/1e6)
	reportPushes(tools, reg.Ref(single.repo), sameRegistry(reg.Addr), "a new repository of the same registry (blobs mounted)", 0, runs)
	reportPushes(tools, reg.Ref(single.repo), freshRegistry(work), "an empty registry (every blob sent)", 0, runs)
	fmt.Printf("\n%s: %d layer(s), %.1f MB compressed\n", five.name, five.layers, float64(five.size)/1e6)
	reportSaveLoad(tools, reg.Ref(five.repo), work, 0, runs)
	return nil
}

// timeSaveLoad times each tool saving ref from its store i to a file and
// loading that file into an empty store of its own, the tools in turn;
// it returns the medians of each.
func timeSaveLoad(tools []*tool, ref, work string, i, runs int) (saves, loads map[string]time.Duration, failed map[string]error) {
	st, lt := map[string][]time.Duration{}, map[string][]time.Duration{}
	failed = map[string]error{}
	dir := filepath.Join(work, "archives")
	_ = os.MkdirAll(dir, 0o700)
	defer os.RemoveAll(dir)
	for r := range runs {
		for _, t := range tools {
			if t.missing != "" || t.save == nil || failed[t.name] != nil {
				continue
			}
			file := filepath.Join(dir, fmt.Sprintf("%s-%d.tar", t.name, r))
			d, err := t.save(ref, file, i)
			if err == nil {
				st[t.name] = append(st[t.name], d)
				d, err = t.load(file, loadBase+r)
				lt[t.name] = append(lt[t.name], d)
			}
			os.Remove(file)
			if err != nil {
				failed[t.name] = err
			}
		}
	}
	for _, t := range tools {
		if t.missing == "" && t.save != nil {
			for r := range runs {
				t.clean(loadBase + r)
			}
		}
	}
	return median(st, failed), median(lt, failed), failed
}

func median(times map[string][]time.Duration, failed map[string]error) map[string]time.Duration {
	med := map[string]time.Duration{}
	for name, ds := range times {
		if failed[name] == nil && len(ds) > 0 {
			slices.Sort(ds)
			med[name] = ds[len(ds)/2]
		}
	}
	return med
}

// reportSaveLoad prints the save and load figures of one image.
func reportSaveLoad(tools []*tool, ref, work string, i, runs int) {
	fmt.Printf("  save to a docker-archive file, then load into an empty store (%d runs, medians):\n", runs)
	saves, loads, failed := timeSaveLoad(tools, ref, work, i, runs)
	for _, t := range tools {
		switch {
		case t.missing != "" || t.save == nil:
		case failed[t.name] != nil:
			fmt.Printf("    %-7s failed: %v\n", t.name, failed[t.name])
		default:
			fmt.Printf("    %-7s save %6.2f s  load %6.2f s\n", t.name, saves[t.name].Seconds(), loads[t.name].Seconds())
		}
	}
	for _, fig := range []struct {
		verb string
		med  map[string]time.Duration
	}{{"save", saves}, {"load", loads}} {
		h, hok := fig.med["husk"]
		p, pok := fig.med["podman"]
		if !hok || !pok {
			continue
		}
		verdict := "met"
		if h.Seconds() > p.Seconds()/2 {
			verdict = "NOT met"
		}
		fmt.Printf("    husk %s/podman %s = %.2f (goal <= 0.5: %s)\n", fig.verb, fig.verb, h.Seconds()/p.Seconds(), verdict)
	}
}
