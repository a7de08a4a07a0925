package build

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// live is the build's view on a terminal, drawn by mpb as BuildKit's tty
// progress looks: a "[+] Building" header, a "=> [stage n/m] INSTRUCTION"
// line per step that ends in DONE, CACHED or ERROR with its time, and the
// steps' output scrolling above the view. A failed step's output is
// printed again under the view, with the step's line, as Docker does.
type live struct {
	p       *mpb.Progress
	out     io.Writer
	start   time.Time
	mu      sync.Mutex
	current map[int]*liveStep // each stage's running step, by stage index
	done    int
	shown   int
	failed  *liveStep
	header  *mpb.Bar
}

type liveStep struct {
	bar    *mpb.Bar
	line   string
	start  time.Time
	end    time.Time
	state  string // "" while running, DONE, CACHED or ERROR
	logs   []string
	number int
}

func newLive(ctx context.Context, out io.Writer) *live {
	l := &live{out: out, start: time.Now(), current: map[int]*liveStep{}}
	l.p = mpb.NewWithContext(ctx, mpb.WithOutput(out), mpb.WithRefreshRate(100*time.Millisecond), mpb.WithAutoRefresh())
	head := l.p.New(0, mpb.NopStyle(), mpb.BarPriority(-1), mpb.PrependDecorators(decor.Any(func(decor.Statistics) string {
		l.mu.Lock()
		defer l.mu.Unlock()
		return fmt.Sprintf("[+] Building %.1fs (%d/%d)", time.Since(l.start).Seconds(), l.done, l.shown)
	})))
	l.header = head
	return l
}

// step ends the stage's running step and starts the next.
func (l *live) step(stage, number int, line string, cached bool) {
	l.finish(stage, nil)
	line = strings.Join(strings.Fields(line), " ") // one row: a heredoc's lines joined
	s := &liveStep{line: line, start: time.Now(), number: number}
	s.bar = l.p.New(0, mpb.NopStyle(), mpb.BarPriority(number), mpb.PrependDecorators(decor.Any(func(st decor.Statistics) string {
		l.mu.Lock()
		defer l.mu.Unlock()
		end := s.end
		if end.IsZero() {
			end = time.Now()
		}
		t := fmt.Sprintf("%.1fs", end.Sub(s.start).Seconds())
		switch s.state {
		case "CACHED":
			t = "CACHED"
		case "DONE", "ERROR":
			t = s.state + " " + t
		}
		return "=> " + fit(s.line, st.AvailableWidth-len(t)-5) + " " + t
	})))
	l.mu.Lock()
	l.shown++
	l.current[stage] = s
	l.mu.Unlock()
	if cached {
		l.end(s, "CACHED")
		l.mu.Lock()
		delete(l.current, stage)
		l.mu.Unlock()
	}
}

func (l *live) end(s *liveStep, state string) {
	l.mu.Lock()
	s.state, s.end = state, time.Now()
	l.done++
	if state == "ERROR" && l.failed == nil {
		l.failed = s
	}
	l.mu.Unlock()
	s.bar.SetTotal(-1, true)
}

// finish ends the stage's running step, if any, as done or failed.
func (l *live) finish(stage int, err error) {
	l.mu.Lock()
	s := l.current[stage]
	delete(l.current, stage)
	l.mu.Unlock()
	if s == nil {
		return
	}
	if err != nil {
		l.end(s, "ERROR")
	} else {
		l.end(s, "DONE")
	}
}

// output is a pipe for a step's process: its lines go above the view and
// into the step's log. The returned func closes it and waits for the last
// line.
func (l *live) output(stage int) (*os.File, func()) {
	r, w, err := os.Pipe()
	if err != nil {
		return os.Stderr, func() {}
	}
	l.mu.Lock()
	s := l.current[stage]
	l.mu.Unlock()
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		defer r.Close()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := strings.TrimRight(sc.Text(), "\r")
			if s != nil {
				l.mu.Lock()
				s.logs = append(s.logs, line)
				l.mu.Unlock()
				fmt.Fprintf(l.p, "#%d %s\n", s.number, line)
			} else {
				fmt.Fprintln(l.p, line)
			}
		}
	}()
	return w, func() {
		w.Close()
		<-copied
	}
}

// close ends every step still running (as failed when err is set), stops
// the view and prints the failed step's output.
func (l *live) close(err error) {
	l.mu.Lock()
	var open []int
	for i := range l.current {
		open = append(open, i)
	}
	l.mu.Unlock()
	for _, i := range open {
		l.finish(i, err)
	}
	l.header.SetTotal(-1, true)
	l.p.Wait()
	if f := l.failed; f != nil {
		fmt.Fprintf(l.out, "------\n > %s:\n", f.line)
		for _, line := range f.logs {
			fmt.Fprintf(l.out, "%s\n", line)
		}
		fmt.Fprintln(l.out, "------")
	}
}

// fit shortens a step's line to the terminal's width, keeping its status
// in view.
func fit(line string, width int) string {
	r := []rune(line)
	if width <= 0 || len(r) <= width {
		return line
	}
	if width < 2 {
		return string(r[:width])
	}
	return string(r[:width-1]) + "…"
}
