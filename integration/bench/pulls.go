package main

import (
	"slices"
	"time"
)

// timePulls times runs cold pulls of ref per tool and returns each tool's
// median, or why it has none. Pull number base+r goes into a store of its
// own. The tools take turns, so that a burst of load on a shared machine
// falls on all of them alike.
//
// No store is emptied between timed pulls (cleanAll does that at the end):
// ext4 without a journal skips, on every inode it allocates, each inode of
// the group that was freed in the last minute, or six while its inode
// table is not yet written (fs/ext4/ialloc.c, recently_deleted), so a
// pull of thousands of files right after the
// previous pull's store was removed costs up to a second more, whichever
// tool makes it. That is the cleanup's cost, not the pull's.
func timePulls(tools []*tool, ref string, base, runs int) (map[string]time.Duration, map[string]error) {
	times := map[string][]time.Duration{}
	failed := map[string]error{}
	for r := range runs {
		for _, t := range tools {
			if t.missing != "" || failed[t.name] != nil {
				continue
			}
			start := time.Now()
			err := t.pull(ref, base+r)
			d := time.Since(start)
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

// cleanAll empties the n stores of every tool (not timed).
func cleanAll(tools []*tool, n int) {
	for _, t := range tools {
		if t.missing == "" {
			for i := range n {
				t.clean(i)
			}
		}
	}
}
