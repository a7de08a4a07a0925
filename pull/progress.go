package pull

import (
	"fmt"
	"io"
	"sync"

	digest "github.com/opencontainers/go-digest"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// progress reports each blob: a bar per blob on a terminal, two plain lines
// per blob elsewhere (logs, CI), nothing with -q.
type progress interface {
	Skip(d digest.Digest)
	Start(d digest.Digest, size int64) func(int64) // returns the byte counter
	Done(d digest.Digest, err error)
	Line(format string, a ...any) // a message between the bars
	Wait()
}

func newProgress(w io.Writer, quiet, tty bool) progress {
	switch {
	case quiet:
		return quietProgress{}
	case tty:
		return &barProgress{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(40)), bars: map[digest.Digest]*mpb.Bar{}}
	}
	return &lineProgress{w: w}
}

func shortDigest(d digest.Digest) string {
	e := d.Encoded()
	if len(e) > 12 {
		e = e[:12]
	}
	return d.Algorithm().String() + ":" + e
}

// humanSize is Docker's units: decimal, three significant digits.
func humanSize(n int64) string {
	f, units := float64(n), []string{"B", "kB", "MB", "GB", "TB"}
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.3g %s", f, units[i])
}

type quietProgress struct{}

func (quietProgress) Skip(digest.Digest)                     {}
func (quietProgress) Start(digest.Digest, int64) func(int64) { return nil }
func (quietProgress) Done(digest.Digest, error)              {}
func (quietProgress) Line(string, ...any)                    {}
func (quietProgress) Wait()                                  {}

type lineProgress struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *lineProgress) Line(format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format+"\n", a...)
}
func (p *lineProgress) Skip(d digest.Digest) {
	p.Line("Copying blob %s skipped: already exists", shortDigest(d))
}
func (p *lineProgress) Start(d digest.Digest, size int64) func(int64) {
	p.Line("Copying blob %s (%s)", shortDigest(d), humanSize(size))
	return nil
}
func (p *lineProgress) Done(d digest.Digest, err error) {
	if err == nil {
		p.Line("Copying blob %s done", shortDigest(d))
	}
}
func (p *lineProgress) Wait() {}

type barProgress struct {
	mu   sync.Mutex
	p    *mpb.Progress
	bars map[digest.Digest]*mpb.Bar
}

func (p *barProgress) Line(format string, a ...any) {
	fmt.Fprintf(p.p, format+"\n", a...)
}
func (p *barProgress) Skip(d digest.Digest) {
	p.Line("Copying blob %s skipped: already exists", shortDigest(d))
}
func (p *barProgress) Start(d digest.Digest, size int64) func(int64) {
	bar := p.p.AddBar(size,
		mpb.PrependDecorators(decor.Name("Copying blob "+shortDigest(d)+" ")),
		mpb.AppendDecorators(decor.OnComplete(decor.Counters(decor.SizeB1000(0), "% .1f / % .1f"), "done")),
	)
	p.mu.Lock()
	p.bars[d] = bar
	p.mu.Unlock()
	return func(n int64) { bar.IncrInt64(n) }
}
func (p *barProgress) Done(d digest.Digest, err error) {
	p.mu.Lock()
	bar := p.bars[d]
	p.mu.Unlock()
	if bar == nil {
		return
	}
	if err != nil {
		bar.Abort(false)
		return
	}
	bar.SetTotal(-1, true)
}
func (p *barProgress) Wait() { p.p.Wait() }
