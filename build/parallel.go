package build

import (
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// Independent stages build at the same time, as BuildKit builds them:
// before the target starts, every stage it needs is started in its own
// goroutine. A stage that needs another waits for that one's result
// (buildStage keeps one build per stage), so only stages with nothing
// between them run together. The first failure stops the others at
// their next step; Build waits for every stage it started before it
// returns, so no step is left running.

// pending is one stage's build: its result once done is closed.
type pending struct {
	done chan struct{}
	st   *stage
	err  error
}

// startNeeded starts, in the background, every stage the target needs.
func (b *builder) startNeeded(target int) {
	for _, j := range b.needed(target) {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			_, _ = b.buildStage(j)
		}()
	}
}

// needed is every stage the target depends on, directly or through
// others, as far as the Dockerfile shows it before any step runs: FROM
// an earlier stage, COPY --from and RUN --mount from=. A reference built
// from a stage's own ARG is found only when its step runs, and built then.
func (b *builder) needed(target int) []int {
	seen := map[int]bool{}
	var walk func(i int)
	walk = func(i int) {
		for _, j := range b.directDeps(i) {
			if !seen[j] {
				seen[j] = true
				walk(j)
			}
		}
	}
	walk(target)
	var out []int
	for j := range b.o.Dockerfile.Stages {
		if seen[j] && j != target {
			out = append(out, j)
		}
	}
	return out
}

func (b *builder) directDeps(i int) []int {
	df := b.o.Dockerfile.Stages[i]
	var refs []string
	if base, err := b.expand(df.BaseName, b.metaEnv()); err == nil {
		refs = append(refs, base)
	}
	for _, c := range df.Commands {
		switch c := c.(type) {
		case *instructions.CopyCommand:
			refs = append(refs, c.From)
		case *instructions.RunCommand:
			for _, m := range instructions.GetMounts(c) {
				refs = append(refs, m.From)
			}
		}
	}
	var out []int
	for _, r := range refs {
		if r == "" || strings.Contains(r, "$") {
			continue
		}
		if j, ok := b.stageRef(r, i); ok {
			out = append(out, j)
		}
	}
	return out
}

// buildStage builds stage i (and what it depends on) once; a caller that
// comes while another builds it waits for that build's result.
func (b *builder) buildStage(i int) (*stage, error) {
	b.mu.Lock()
	p, ok := b.stages[i]
	if !ok {
		p = &pending{done: make(chan struct{})}
		b.stages[i] = p
	}
	b.mu.Unlock()
	if ok {
		<-p.done
		return p.st, p.err
	}
	p.st, p.err = b.runStage(i)
	if p.err != nil {
		b.fail(p.err)
	}
	close(p.done)
	return p.st, p.err
}

func (b *builder) runStage(i int) (*stage, error) {
	st, err := b.newStage(i)
	if err != nil {
		return nil, err
	}
	return st, st.run()
}

// fail keeps the first failure and stops the other stages.
func (b *builder) fail(err error) {
	b.mu.Lock()
	if b.failed == nil {
		b.failed = err
	}
	b.mu.Unlock()
	b.cancel()
}

// firstFailure is the error that stopped the build, over the "canceled"
// the other stages saw.
func (b *builder) firstFailure(err error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failed != nil {
		return b.failed
	}
	return err
}
