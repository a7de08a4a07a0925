package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"husk/store"
)

// Options are a build's inputs.
type Options struct {
	Dockerfile *Dockerfile
	Context    *Context
	Tags       []string          // normalized names
	BuildArgs  map[string]string // --build-arg, resolved
	Labels     map[string]string // --label
	Target     string            // "" for the last stage
	NoCache    bool
	AlwaysPull bool    // --pull: fetch FROM images even when the store has them
	Network    Network // --network: RUN steps' network, unless RUN --network says otherwise
	Quiet      bool
	Live       bool      // a live view on Out, a terminal, rather than plain lines
	Out        io.Writer // progress and the steps' output
	Runner     Runner
	Secrets    map[string]Secret      // --secret, by id
	Pull       func(ref string) error // fetches a FROM image missing from the store
}

// builder is one build in progress.
type builder struct {
	ctx     context.Context
	s       *store.Store
	o       Options
	cache   *cache
	escape  rune              // the Dockerfile's escape token, for its shell lexers
	meta    map[string]string // args before the first FROM, and the predefined ones
	devNull *os.File          // the steps' output with -q
	live    *live             // the terminal's view with Live

	cancel context.CancelFunc // stops every stage at its next step
	wg     sync.WaitGroup     // the stages started in the background
	mu     sync.Mutex         // guards what follows
	stages map[int]*pending   // stages started, by index
	step   int                // steps shown so far
	failed error              // the first stage's failure
}

// Build runs the Dockerfile's stages up to the target and records the
// result as an image with the given names; it returns the image's ID.
// Nothing of a failed build becomes an image: the record is written last.
// The layers of the steps that succeeded stay, as the cache.
func Build(ctx context.Context, s *store.Store, o Options) (string, error) {
	df := o.Dockerfile
	b := &builder{s: s, o: o, cache: openCache(s, o.NoCache), escape: df.Escape, stages: map[int]*pending{}}
	b.ctx, b.cancel = context.WithCancel(ctx)
	defer b.cancel()
	if o.Quiet {
		null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return "", err
		}
		defer null.Close()
		b.devNull = null
	}
	if o.Live && !o.Quiet {
		b.live = newLive(context.WithoutCancel(ctx), o.Out)
	}
	id, err := b.build()
	if b.live != nil {
		b.live.close(err)
	}
	return id, err
}

func (b *builder) build() (string, error) {
	df, o := b.o.Dockerfile, b.o
	if err := b.metaArgs(); err != nil {
		return "", err
	}
	target := len(df.Stages) - 1
	if o.Target != "" {
		i, ok := instructions.HasStage(df.Stages, o.Target)
		if !ok {
			return "", userErrorf("--target %s: the Dockerfile %s has no stage of that name: name one of its FROM ... AS lines", o.Target, df.Name)
		}
		target = i
	}
	b.startNeeded(target)
	st, err := b.buildStage(target)
	b.wg.Wait()
	if err != nil {
		return "", b.firstFailure(err)
	}
	return b.commit(st)
}

// predefined are the platform args every stage may declare.
func predefined() map[string]string {
	p := "linux/" + runtime.GOARCH
	return map[string]string{
		"TARGETPLATFORM": p, "TARGETOS": "linux", "TARGETARCH": runtime.GOARCH, "TARGETVARIANT": "",
		"BUILDPLATFORM": p, "BUILDOS": "linux", "BUILDARCH": runtime.GOARCH, "BUILDVARIANT": "",
	}
}

// metaArgs are the ARGs before the first FROM, which FROM lines expand.
func (b *builder) metaArgs() error {
	b.meta = predefined()
	for _, a := range b.o.Dockerfile.MetaArgs {
		for _, kv := range a.Args {
			v, given := b.o.BuildArgs[kv.Key]
			if !given && kv.Value != nil {
				var err error
				if v, err = b.expand(*kv.Value, b.metaEnv()); err != nil {
					return b.errAt(a.Location(), err)
				}
			}
			b.meta[kv.Key] = v
		}
	}
	return nil
}

func (b *builder) metaEnv() []string {
	var env []string
	for k, v := range b.meta {
		env = append(env, k+"="+v)
	}
	return env
}

func (b *builder) expand(word string, env []string) (string, error) {
	out, _, err := b.lexer().ProcessWord(word, shell.EnvsFromSlice(env))
	return out, err
}

// lexer is a shell lexer for one expansion. A Lex keeps the word it reads
// in itself, and stages build at the same time: one shared by them mixed
// their words ("FROM base" read as "bse", cache keys of words no step
// had).
func (b *builder) lexer() *shell.Lex { return shell.NewLex(b.escape) }

// stageRef finds an earlier stage by name or index ("" if none matches).
func (b *builder) stageRef(name string, before int) (int, bool) {
	if i, ok := instructions.HasStage(b.o.Dockerfile.Stages[:before], name); ok {
		return i, true
	}
	var n int
	if _, err := fmt.Sscanf(name, "%d", &n); err == nil && fmt.Sprint(n) == name && n >= 0 && n < before {
		return n, true
	}
	return 0, false
}

// errAt is err as a one-line error at an instruction's line.
func (b *builder) errAt(loc []parser.Range, err error) error {
	var ue *UserError
	var rf *runFailed
	if errors.As(err, &ue) || errors.As(err, &rf) {
		return err
	}
	return userErrorf("%s:%d: %s", b.o.Dockerfile.Name, lineOf(loc), strings.ReplaceAll(err.Error(), "\n", " "))
}

// show prints a step's line, as Docker's plain progress does.
func (b *builder) show(st *stage, n, total int, text string, cached bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.step++
	if b.o.Quiet {
		return
	}
	name := st.name
	if name == "" {
		name = fmt.Sprintf("stage-%d", st.index)
	}
	if b.live != nil {
		b.live.step(st.index, b.step, fmt.Sprintf("[%s %d/%d] %s", name, n, total, text), cached)
		return
	}
	fmt.Fprintf(b.o.Out, "#%d [%s %d/%d] %s\n", b.step, name, n, total, text)
	if cached {
		fmt.Fprintf(b.o.Out, "#%d CACHED\n", b.step)
	}
}

// commit records the target stage's image under the build's names.
func (b *builder) commit(st *stage) (string, error) {
	cfg := st.cfg
	for k, v := range b.o.Labels {
		if cfg.Config.Labels == nil {
			cfg.Config.Labels = map[string]string{}
		}
		cfg.Config.Labels[k] = v
	}
	key := nextKey(st.key, "labels", fmt.Sprint(b.o.Labels))
	if e, ok := b.cache.get(key); ok && e.Image != "" {
		if _, err := b.s.Image(e.Image); err == nil {
			// The same build again: the same image, as Docker gives it.
			return e.Image, b.name(e.Image)
		}
	}
	if cfg.Created.IsZero() || len(cfg.History) > 0 {
		cfg.Created = v1.Time{Time: time.Now().UTC()}
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return "", err
	}
	id, manifest, err := b.manifest(raw, st)
	if err != nil {
		return "", err
	}
	err = b.s.CommitImage(store.ImageRecord{
		ID: id, Names: b.o.Tags, TopLayer: st.top, Manifest: manifest,
		ManifestDigest: digestOf(manifest), Config: raw, Created: cfg.Created.Time,
	})
	if err != nil {
		return "", err
	}
	b.cache.put(key, entry{Image: id})
	return id, nil
}

func (b *builder) name(id string) error {
	if len(b.o.Tags) == 0 {
		return nil
	}
	return b.s.AddNames(id, b.o.Tags)
}
