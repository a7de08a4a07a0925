package integration

import (
	"sync"
	"testing"
	"time"
)

// Ctrl-C in the middle of a pull: SIGINT to the process group, as a
// terminal sends it. husk exits 130, lists no partial image, and the next
// pull completes.
func TestPullInterrupted(t *testing.T) {
	e := newEnv(t)
	// Each blob waits 3 s in the proxy: the pull is surely under way.
	p := newProxy(t, plain, 3*time.Second)
	ref := p.Ref("layers:latest")

	r := interrupt(t, e, []string{"pull", ref}, func(string) bool { return true }, 2*time.Second, false, 300*time.Millisecond)
	if r.code != 130 {
		t.Errorf("interrupted pull: want exit 130, got %d; stderr:\n%s", r.code, r.stderr)
	}
	if ids := e.imageIDs(); len(ids) != 0 {
		t.Errorf("after the interrupted pull, want no image; husk images -q: %q", ids)
	}

	p.SetDelay(0)
	e.pull(ref)
	wantOnlyImage(t, e, images.Layers)
	checkLayersImage(t, e, ref)
}

// Two pulls of the same image at once both succeed, and leave one image.
func TestPullConcurrent(t *testing.T) {
	e := newEnv(t)
	// A short hold on each blob makes the two pulls overlap.
	p := newProxy(t, plain, time.Second)
	ref := p.Ref("layers:latest")
	var wg sync.WaitGroup
	results := make([]result, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.run("pull", ref)
		}()
	}
	wg.Wait()
	for _, r := range results {
		if r.code != 0 {
			t.Errorf("concurrent pull: %s", r)
		}
	}
	wantOnlyImage(t, e, images.Layers)
	checkLayersImage(t, e, ref)
}
