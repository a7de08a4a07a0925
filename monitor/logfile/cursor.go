package logfile

import (
	"bufio"
	"context"
	"io"
	"os"
	"time"
)

// pollInterval is how often a Follow looks for new entries: soon enough to
// feel live, rare enough to cost nothing (a stat or two a look).
const pollInterval = 100 * time.Millisecond

// cursor is a reader's place in a log: the file it reads, however that file
// is named by now, and the start of a line the writer has not finished.
type cursor struct {
	chain   chain
	f       *os.File // nil until a file of the log exists
	name    string   // f's name when opened, for errors
	r       *bufio.Reader
	partial []byte
}

func (c *cursor) close() {
	if c.f != nil {
		_ = c.f.Close()
	}
}

// follow drains the log every pollInterval until ctx ends or stop closes.
func (c *cursor) follow(ctx context.Context, stop <-chan struct{}, fn func(Entry) error) error {
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			return c.drain(ctx, fn)
		case <-t.C:
			if err := c.drain(ctx, fn); err != nil {
				return err
			}
		}
	}
}

// drain reads every entry written so far, going on to the newer files that
// rotations made while the cursor was behind.
func (c *cursor) drain(ctx context.Context, fn func(Entry) error) error {
	for {
		if err := c.read(ctx, fn); err != nil {
			return err
		}
		next, name, err := c.chain.next(c.f)
		if next == nil {
			return err
		}
		// The writer was done with c.f before it renamed it, so one more
		// read gets what was written after the read above.
		if err := c.read(ctx, fn); err != nil {
			_ = next.Close()
			return err
		}
		c.close()
		c.f, c.name, c.partial = next, name, nil
		c.r = bufio.NewReaderSize(next, 64<<10)
	}
}

// read passes on each complete line up to the end of the file. A partial
// last line is kept for the next read, as the writer may be in the middle of
// writing it.
func (c *cursor) read(ctx context.Context, fn func(Entry) error) error {
	if c.f == nil {
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		line, err := c.r.ReadBytes('\n')
		if err == io.EOF {
			c.partial = append(c.partial, line...)
			return nil
		}
		if err != nil {
			return fail("reading log", c.name, err)
		}
		if len(c.partial) > 0 {
			line, c.partial = append(c.partial, line...), nil
		}
		if e, ok := decode(line); ok {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
}
