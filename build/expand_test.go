package build

import (
	"fmt"
	"sync"
	"testing"
)

// Stages expand their words at the same time: each gets its own words
// back, as alone (a shared lexer mixed them).
func TestExpandConcurrently(t *testing.T) {
	b := &builder{escape: '\\'}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			env := []string{fmt.Sprintf("STAGE=stage%d", g)}
			for i := range 2000 {
				want := fmt.Sprintf("stage%d-word-%d", g, i)
				got, err := b.expand(fmt.Sprintf("${STAGE}-word-%d", i), env)
				if err != nil || got != want {
					errs <- fmt.Errorf("expanded %q, want %q (%v)", got, want, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
