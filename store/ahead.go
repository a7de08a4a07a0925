package store

import (
	"io"
	"sync"
)

// aheadReader reads its source on a goroutine of its own, up to a few
// chunks ahead of its reader. A layer's unpacking thread then does only
// the unpacking: the decompression, the digests, the checks and the
// tar-split of the stream run on the other core meanwhile.
type aheadReader struct {
	full chan chunk
	free chan []byte
	stop chan struct{}
	done chan struct{}

	buf []byte // the chunk being read, handed back when empty
	cur []byte // its unread part
	err error  // the source's last word, after cur
}

type chunk struct {
	b   []byte
	err error
}

// readAhead starts reading r in chunks of size bytes, at most n ahead.
// Close must be called: it stops the goroutine and waits for it, so that
// nothing reads r after Close returns.
func readAhead(r io.Reader, size, n int) *aheadReader {
	a := &aheadReader{full: make(chan chunk, n), free: make(chan []byte, n+1),
		stop: make(chan struct{}), done: make(chan struct{})}
	for range n + 1 {
		a.free <- chunkBuf(size)
	}
	go a.fill(r)
	return a
}

func (a *aheadReader) fill(r io.Reader) {
	defer close(a.done)
	for {
		var buf []byte
		select {
		case buf = <-a.free:
		case <-a.stop:
			return
		}
		n, err := io.ReadFull(r, buf)
		if err == io.ErrUnexpectedEOF {
			err = io.EOF // a short last chunk
		}
		select {
		case a.full <- chunk{buf[:n], err}:
		case <-a.stop:
			return
		}
		if err != nil {
			return
		}
	}
}

func (a *aheadReader) Read(p []byte) (int, error) {
	for len(a.cur) == 0 {
		if a.err != nil {
			return 0, a.err
		}
		if a.buf != nil {
			a.free <- a.buf[:cap(a.buf)] // never blocks: free holds every buffer
			a.buf = nil
		}
		c := <-a.full
		a.buf, a.cur, a.err = c.b, c.b, c.err
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	return n, nil
}

// Close stops the reading ahead and waits until the source is left alone.
func (a *aheadReader) Close() {
	close(a.stop)
	<-a.done
	// The chunks go back for the next layer: a load of several layers
	// touches the same memory again, not fresh pages for each.
	if a.buf != nil {
		putChunk(a.buf)
		a.buf, a.cur = nil, nil
	}
	for {
		select {
		case c := <-a.full:
			putChunk(c.b)
		case b := <-a.free:
			putChunk(b)
		default:
			return
		}
	}
}

const pooledChunk = 1 << 20

var chunkPool = sync.Pool{New: func() any {
	b := make([]byte, pooledChunk)
	return &b
}}

func chunkBuf(size int) []byte {
	if size != pooledChunk {
		return make([]byte, size)
	}
	return *chunkPool.Get().(*[]byte)
}

func putChunk(b []byte) {
	if cap(b) == pooledChunk {
		b = b[:pooledChunk]
		chunkPool.Put(&b)
	}
}
