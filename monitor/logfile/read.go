package logfile

import (
	"context"
	"time"
)

// ReadOptions say which entries Read passes on.
type ReadOptions struct {
	// Tail is how many of the newest entries to start with; < 0 means all.
	Tail int
	// Since skips entries older than it; zero means no lower bound.
	Since time.Time
	// Follow keeps reading entries as they are written, across rotations,
	// until ctx is done or Stop is closed.
	Follow bool
	// Stop ends a Follow once what is already written has been read; nil
	// means only ctx ends it.
	Stop <-chan struct{}
}

// Read calls fn for each entry, oldest first, across the rotated files
// (path.N … path.1, path), applying Since and then Tail. A missing log reads
// as empty. An error from fn ends Read and is returned as is; so is ctx's
// error when ctx ends a read; closing Stop makes a Follow return nil.
func Read(ctx context.Context, path string, o ReadOptions, fn func(Entry) error) error {
	c := &cursor{chain: chain(path)}
	defer c.close()
	out := since(o.Since, fn)
	if o.Tail < 0 {
		if err := c.drain(ctx, out); err != nil {
			return err
		}
	} else {
		t := &tail{max: o.Tail}
		if err := c.drain(ctx, since(o.Since, t.add)); err != nil {
			return err
		}
		if err := t.flush(fn); err != nil {
			return err
		}
	}
	if !o.Follow {
		return nil
	}
	return c.follow(ctx, o.Stop, out)
}

// since filters out entries older than t.
func since(t time.Time, fn func(Entry) error) func(Entry) error {
	if t.IsZero() {
		return fn
	}
	return func(e Entry) error {
		if e.Time.Before(t) {
			return nil
		}
		return fn(e)
	}
}

// tail keeps the last max entries it is given, in a ring, so that Tail takes
// one forward pass over the files and memory for max entries only.
type tail struct {
	max  int
	ring []Entry
	next int // the oldest entry once the ring is full
}

func (t *tail) add(e Entry) error {
	switch {
	case t.max == 0:
	case len(t.ring) < t.max:
		t.ring = append(t.ring, e)
	default:
		t.ring[t.next] = e
		t.next = (t.next + 1) % t.max
	}
	return nil
}

func (t *tail) flush(fn func(Entry) error) error {
	for i := range t.ring {
		if err := fn(t.ring[(t.next+i)%len(t.ring)]); err != nil {
			return err
		}
	}
	return nil
}
