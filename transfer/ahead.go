package transfer

import (
	"context"
	"io"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"husk/store"
)

// A save writes its archive one layer after the other (go-containerregistry's
// tarball writer), and each layer's tar is rebuilt by the store and checked
// against its digest on the way: work for one core at a time. layersAhead
// rebuilds and checks the next layers on goroutines of their own while the
// archive writer copies the current one, each into memory up to a bound.
// The check is the same, done where the bytes pass once: a layer that
// reads back otherwise fails the save when the writer reaches its end.
const (
	aheadLayers = 2       // layers read ahead of the one being written
	aheadChunks = 16      // per layer: at most this many chunks in memory
	chunkSize   = 1 << 20 // bytes per chunk
)

var chunks = sync.Pool{New: func() any {
	b := make([]byte, chunkSize)
	return &b
}}

// layersAhead hands out the layers' readers in the archive's order,
// starting the next ones' reading as each is opened.
type layersAhead struct {
	ctx    context.Context
	s      *store.Store
	layers []blob

	mu     sync.Mutex
	ahead  map[v1.Hash]*tarAhead // started, not yet handed out
	all    []*tarAhead
	closed bool
}

func newLayersAhead(ctx context.Context, s *store.Store, layers []blob) *layersAhead {
	return &layersAhead{ctx: ctx, s: s, layers: layers, ahead: map[v1.Hash]*tarAhead{}}
}

// open returns b's reader, read ahead if it was started, and starts the
// layers after it. A layer asked for again (an archive of several images
// that share it) is read again.
func (a *layersAhead) open(b blob) (io.ReadCloser, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, context.Canceled
	}
	i := 0
	for i < len(a.layers) && a.layers[i].digest != b.digest {
		i++
	}
	for j := i + 1; j < len(a.layers) && j <= i+aheadLayers; j++ {
		d := a.layers[j].digest
		if d != b.digest && a.ahead[d] == nil {
			a.ahead[d] = a.startLocked(a.layers[j])
		}
	}
	if t := a.ahead[b.digest]; t != nil {
		a.ahead[b.digest] = nil
		delete(a.ahead, b.digest)
		return t, nil
	}
	return a.startLocked(b), nil
}

func (a *layersAhead) startLocked(b blob) *tarAhead {
	t := startAhead(func() (io.ReadCloser, error) { return openTar(a.ctx, a.s, b) })
	a.all = append(a.all, t)
	return t
}

// startAhead starts reading what open opens.
func startAhead(open func() (io.ReadCloser, error)) *tarAhead {
	t := &tarAhead{full: make(chan chunk, aheadChunks), stop: make(chan struct{}), done: make(chan struct{})}
	go t.fill(open)
	return t
}

// Close stops every reading still under way and waits for it: nothing
// reads the store after Close returns.
func (a *layersAhead) Close() {
	a.mu.Lock()
	a.closed = true
	all := a.all
	a.mu.Unlock()
	for _, t := range all {
		t.Close()
	}
}

type chunk struct {
	b   *[]byte
	n   int
	err error
}

// tarAhead is one layer's tar, read on a goroutine of its own into
// chunks.
type tarAhead struct {
	full chan chunk
	stop chan struct{}
	done chan struct{}
	once sync.Once

	cur chunk // being read
	off int
	err error // the source's last word, after cur
}

func (t *tarAhead) fill(open func() (io.ReadCloser, error)) {
	defer close(t.done)
	rc, err := open()
	if err != nil {
		t.send(chunk{err: err})
		return
	}
	defer rc.Close()
	for {
		b := chunks.Get().(*[]byte)
		n, err := io.ReadFull(rc, *b)
		if err == io.ErrUnexpectedEOF {
			err = io.EOF // a short last chunk; checkedTar has spoken at its end
		}
		if !t.send(chunk{b: b, n: n, err: err}) || err != nil {
			return
		}
	}
}

func (t *tarAhead) send(c chunk) bool {
	select {
	case t.full <- c:
		return true
	case <-t.stop:
		if c.b != nil {
			chunks.Put(c.b)
		}
		return false
	}
}

// next makes cur the next chunk; false at the source's end or failure.
func (t *tarAhead) next() bool {
	if t.cur.b != nil {
		chunks.Put(t.cur.b)
		t.cur.b = nil
	}
	if t.err != nil {
		return false
	}
	t.cur, t.off = <-t.full, 0
	if t.cur.err != nil {
		t.err = t.cur.err
	}
	return true
}

func (t *tarAhead) Read(p []byte) (int, error) {
	for t.cur.b == nil || t.off == t.cur.n {
		if !t.next() {
			return 0, t.err
		}
	}
	n := copy(p, (*t.cur.b)[t.off:t.cur.n])
	t.off += n
	return n, nil
}

// WriteTo hands the writer whole chunks (io.Copy uses it).
func (t *tarAhead) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if t.cur.b != nil && t.off < t.cur.n {
			n, err := w.Write((*t.cur.b)[t.off:t.cur.n])
			t.off += n
			total += int64(n)
			if err != nil {
				return total, err
			}
		}
		if !t.next() {
			if t.err == io.EOF {
				return total, nil
			}
			return total, t.err
		}
	}
}

// Close stops the reading, waits until the store's reader is closed, and
// gives the chunks back.
func (t *tarAhead) Close() error {
	t.once.Do(func() {
		close(t.stop)
		<-t.done
		if t.cur.b != nil {
			chunks.Put(t.cur.b)
			t.cur.b = nil
		}
		for {
			select {
			case c := <-t.full:
				if c.b != nil {
					chunks.Put(c.b)
				}
			default:
				return
			}
		}
	})
	return nil
}
