package monitor

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"husk/monitor/attach"
)

// streams are one start's standard streams: pipes whose far ends the
// sandbox inherits, and with -t the pty master the init hands over.
type streams struct {
	stdin, stdout, stderr *os.File // the sandbox's ends
	near                  []*os.File
	copies                sync.WaitGroup
	closeOnce             sync.Once
	console               func(master *os.File)
}

func (m *monitor) streams() (*streams, error) {
	s := &streams{}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating the container's output pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("creating the container's output pipe: %w", err)
	}
	s.stdout, s.stderr = outW, errW
	s.copy(outR, m.hub.Output(attach.Stdout, m.log.Stream("stdout")))
	s.copy(errR, m.hub.Output(attach.Stderr, m.log.Stream("stderr")))
	m.hub.SetInput(nil, nil)
	switch {
	case m.c.Config.Terminal():
		s.console = func(master *os.File) {
			var in io.WriteCloser
			if m.c.Config.Interactive {
				in = master
			}
			m.hub.SetInput(in, master)
			s.copy(master, m.hub.Output(attach.Stdout, m.log.Stream("stdout")))
		}
	case m.c.Config.Interactive:
		inR, inW, err := os.Pipe()
		if err != nil {
			return nil, fmt.Errorf("creating the container's input pipe: %w", err)
		}
		s.stdin = inR
		s.near = append(s.near, inW)
		m.hub.SetInput(inW, nil)
	}
	return s, nil
}

// copy copies a stream until its writers are gone (EOF, or EIO on a pty).
func (s *streams) copy(r *os.File, w io.Writer) {
	s.copies.Add(1)
	go func() {
		defer s.copies.Done()
		defer r.Close()
		_, _ = io.Copy(w, r)
	}()
}

// closeChildEnds drops this side's copies of the sandbox's ends, so that
// the copies see EOF when the sandbox's processes are gone.
func (s *streams) closeChildEnds() {
	s.closeOnce.Do(func() {
		for _, f := range []*os.File{s.stdin, s.stdout, s.stderr} {
			if f != nil {
				f.Close()
			}
		}
	})
}

// closeNear closes this side's input end once the start is over.
func (s *streams) closeNear() {
	for _, f := range s.near {
		f.Close()
	}
}

// wait lets the last output reach the log, at most a little while: a
// process the sandbox left behind may still hold a pipe.
func (s *streams) wait() {
	done := make(chan struct{})
	go func() { s.copies.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
}
