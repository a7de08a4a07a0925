package transfer

import (
	"context"
	"crypto/sha256"
	"errors"
	"hash"
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
	t := startAhead(func(w *chunkWriter) error { return writeTar(a.ctx, a.s, b, w) })
	a.all = append(a.all, t)
	return t
}

// writeTar writes layer b's tar to w, checked against its digest and size
// as it passes: rebuilt by store.WriteLayerTar where it can, else read
// through Diff (openTar, which checks it itself).
func writeTar(ctx context.Context, s *store.Store, b blob, w *chunkWriter) error {
	w.sum = sha256.New()
	ok, err := s.WriteLayerTar(ctx, b.layer, w)
	if !ok {
		w.sum = nil
		rc, err := openTar(ctx, s, b)
		if err != nil {
			return err
		}
		defer rc.Close()
		_, err = io.Copy(w, rc)
		return err
	}
	if err != nil {
		return err
	}
	return b.check(w.sum.Sum(nil), w.total)
}

// copyTar writes layer id's tar to w unchecked (the caller sums it):
// rebuilt by store.WriteLayerTar where it can, else read through Diff.
func copyTar(ctx context.Context, s *store.Store, id string, w io.Writer) error {
	if ok, err := s.WriteLayerTar(ctx, id, w); ok {
		return err
	}
	rc, err := openDiff(s, id)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(w, ctxReader{ctx, rc})
	return err
}

// startAhead starts producing a layer's tar into chunks.
func startAhead(produce func(*chunkWriter) error) *tarAhead {
	t := &tarAhead{full: make(chan chunk, aheadChunks), stop: make(chan struct{}), done: make(chan struct{})}
	go t.fill(produce)
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

func (t *tarAhead) fill(produce func(*chunkWriter) error) {
	defer close(t.done)
	w := &chunkWriter{t: t}
	err := produce(w)
	if errors.Is(err, errStopped) {
		return
	}
	if err == nil {
		err = io.EOF
	}
	c := chunk{err: err}
	if w.b != nil {
		c.b, c.n = w.b, w.n
	}
	t.send(c)
}

// errStopped: the reader was closed before the end.
var errStopped = errors.New("the reading ahead was stopped")

// chunkWriter fills chunks and hands each over when full, summing what
// passes when sum is set.
type chunkWriter struct {
	t     *tarAhead
	b     *[]byte
	n     int
	sum   hash.Hash
	total int64
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if err := w.room(); err != nil {
			return written, err
		}
		k := copy((*w.b)[w.n:], p)
		w.took((*w.b)[w.n : w.n+k])
		p, written = p[k:], written+k
	}
	return written, nil
}

// ReadFrom reads r into the chunks directly (io.Copy uses it).
func (w *chunkWriter) ReadFrom(r io.Reader) (int64, error) {
	var read int64
	for {
		if err := w.room(); err != nil {
			return read, err
		}
		k, err := r.Read((*w.b)[w.n:])
		w.took((*w.b)[w.n : w.n+k])
		read += int64(k)
		if err == io.EOF {
			return read, nil
		}
		if err != nil {
			return read, err
		}
	}
}

// room makes sure there is a chunk with room in it, handing over a full
// one first.
func (w *chunkWriter) room() error {
	if w.b != nil && w.n == len(*w.b) {
		b := w.b
		w.b = nil
		if !w.t.send(chunk{b: b, n: len(*b)}) {
			return errStopped
		}
	}
	if w.b == nil {
		w.b, w.n = chunks.Get().(*[]byte), 0
	}
	return nil
}

func (w *chunkWriter) took(p []byte) {
	if w.sum != nil {
		w.sum.Write(p)
	}
	w.n += len(p)
	w.total += int64(len(p))
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
