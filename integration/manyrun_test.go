package integration

import (
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"
)

// 20 runs at once of an image not yet pulled, by one user whose HOME is on
// the sshfs mount (a cluster job array starting on a node): all succeed,
// the registry serves each blob once, and nothing is left behind.
func TestRunManyAtOnceSSHFS(t *testing.T) {
	e, exportHome := sshfsEnv(t)
	e.vars[markVar] = randomHex(8)
	// A short hold on each blob GET makes the pulls overlap.
	p := newProxy(t, plain, 300*time.Millisecond)
	ref := p.Ref("busybox:latest")
	const n = 20
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%4 == 3 {
				results[i] = e.run("run", "-d", "--name", fmt.Sprintf("many%d", i), ref, "true")
			} else {
				results[i] = e.run("run", "--rm", ref, "true")
			}
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Errorf("run %d of %d at once: %s", i, n, r)
		}
	}
	fetched := p.Fetched()
	sort.Strings(fetched)
	seen := map[string]int{}
	for _, d := range fetched {
		seen[d]++
	}
	t.Logf("blob GETs the registry served: %q", fetched)
	for d, c := range seen {
		if c != 1 {
			t.Errorf("blob %s was served %d times, want once (all GETs: %q)", d, c, fetched)
		}
	}
	layers, err := images.Busybox.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if want := len(layers) + 1; len(seen) != want {
		t.Errorf("want %d blobs fetched (config and layers), got %d: %q", want, len(seen), fetched)
	}
	wantOnlyImage(t, e, images.Busybox)
	for i := 3; i < n; i += 4 {
		name := fmt.Sprintf("many%d", i)
		waitFor(t, 30*time.Second, func() bool {
			return e.inspect(name).State.Status == "exited"
		})
		e.ok("rm", name)
	}
	if r := e.ok("ps", "-aq"); r.stdout != "" {
		t.Errorf("want no containers left: %s", r)
	}
	e.noLeftovers()
	wantPlainFiles(t, exportHome)
}
