package transfer

import (
	"bytes"
	"encoding/binary"
	"hash"
	"hash/crc32"
	"io"
	"runtime"
	"sync"

	"github.com/klauspost/compress/flate"
)

// blockGzip is how husk gzips a layer: as pgzip does, the input is cut
// into 1 MiB blocks deflated at once, each with the 32 KiB before it as
// its dictionary, and the blocks joined into one deflate stream, so the
// result is one ordinary gzip member any reader takes. The difference: a
// block is first sampled, and one whose sample does not shrink is stored
// rather than deflated. A layer of files that are compressed already
// (archives, media, model weights) then costs a copy instead of a match
// search that finds nothing, and its gzip is no larger for it.
//
// The output depends only on the input (the block size, the sampling and
// the levels are fixed), which is what lets gzipRecord remember a tar's
// digest: gzipForm names this form.
//
// Whoever writes into it only copies: the input's CRC and the caller's
// digest of it (sum) are taken block by block on a goroutine of their own,
// as the output's are on the writer's, so reading a layer's files is the
// only work left in line.
type blockGzip struct {
	w     io.Writer
	sum   hash.Hash // of the input, if not nil
	cur   *gzPart   // the block being filled
	tail  []byte    // the last gzWindow bytes given to a block: the next one's dictionary
	crc   uint32    // of the input, as far as summed
	size  uint32    // modulo 2^32, as gzip's trailer has it
	order chan *gzPart
	sums  chan *gzPart
	free  chan *gzPart
	comps chan *gzCompressor
	made  int // parts made so far, at most parts
	parts int
	done  chan struct{}

	mu   sync.Mutex
	werr error // the first failure to deflate or write
}

const (
	gzBlock  = 1 << 20
	gzWindow = 32 << 10 // deflate's window
	gzAhead  = 4        // blocks deflated at once, at most
)

// gzPart is one block on its way: filled, deflated, written, reused.
type gzPart struct {
	in    []byte
	dict  []byte
	last  bool
	out   bytes.Buffer
	err   error
	ready chan struct{} // deflated
	sumd  chan struct{} // its input summed
}

// newBlockGzip gzips what is written to it onto w; sum, if not nil, is
// given the input too.
func newBlockGzip(w io.Writer, sum hash.Hash) *blockGzip {
	// As many blocks deflate at once as there are threads to run them
	// (each block's buffers and compressor are memory touched afresh,
	// costly where page faults are); the output is the same for any.
	ahead := min(runtime.GOMAXPROCS(0), gzAhead)
	z := &blockGzip{
		w:     w,
		sum:   sum,
		parts: ahead + 1, // and one being filled
		order: make(chan *gzPart, ahead+1),
		sums:  make(chan *gzPart, ahead+1),
		free:  make(chan *gzPart, ahead+1),
		comps: make(chan *gzCompressor, ahead),
		done:  make(chan struct{}),
	}
	for range ahead {
		z.comps <- &gzCompressor{}
	}
	z.cur = z.part()
	go z.writeOut()
	go z.sumIn()
	return z
}

// The gzip member's header: deflate, no name or time, unknown OS, as Go's
// gzip writes it.
var gzHeader = []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255}

func (z *blockGzip) Write(p []byte) (int, error) {
	if err := z.failed(); err != nil {
		return 0, err
	}
	n := len(p)
	for len(p) > 0 {
		room := gzBlock - len(z.cur.in)
		if room > len(p) {
			room = len(p)
		}
		z.cur.in = append(z.cur.in, p[:room]...)
		p = p[room:]
		if len(z.cur.in) == gzBlock {
			z.send(false)
		}
	}
	return n, nil
}

// Close deflates the last block and ends the member with gzip's trailer.
func (z *blockGzip) Close() error {
	if z.cur == nil {
		return z.failed()
	}
	z.send(true)
	z.cur = nil
	close(z.order)
	close(z.sums)
	<-z.done
	if err := z.failed(); err != nil {
		return err
	}
	var trailer [8]byte
	binary.LittleEndian.PutUint32(trailer[:4], z.crc)
	binary.LittleEndian.PutUint32(trailer[4:], z.size)
	return z.fail(write(z.w, trailer[:]))
}

// send hands the filled block to a compressor and starts the next.
func (z *blockGzip) send(last bool) {
	p := z.cur
	p.last = last
	p.dict = append(p.dict[:0], z.tail...)
	if len(p.in) >= gzWindow {
		z.tail = append(z.tail[:0], p.in[len(p.in)-gzWindow:]...)
	}
	z.order <- p
	z.sums <- p
	go func() {
		c := <-z.comps
		p.err = c.deflate(p)
		z.comps <- c
		close(p.ready)
	}()
	if !last {
		z.cur = z.part()
	}
}

// part is an idle part, a new one while fewer than z.parts exist; else
// it waits for the writer to finish one.
func (z *blockGzip) part() *gzPart {
	var p *gzPart
	if z.made < z.parts {
		z.made++
		// Room for a stored block's output from the start: a buffer
		// grown by doubling touches twice the memory.
		p = &gzPart{in: make([]byte, 0, gzBlock)}
		p.out.Grow(gzBlock + gzBlock/64)
	} else {
		p = <-z.free
	}
	p.in, p.err = p.in[:0], nil
	p.ready, p.sumd = make(chan struct{}), make(chan struct{})
	p.out.Reset()
	return p
}

// writeOut writes the header, then each block's deflate in order; after a
// failure it only hands the parts back. A part is reused once its input
// is summed too, so when writeOut ends, the CRC and sum are whole.
func (z *blockGzip) writeOut() {
	defer close(z.done)
	z.fail(write(z.w, gzHeader))
	for p := range z.order {
		<-p.ready
		if z.fail(p.err) == nil {
			z.fail(write(z.w, p.out.Bytes()))
		}
		<-p.sumd
		z.free <- p
	}
}

// sumIn takes each block's input, in order, into the CRC and sum.
func (z *blockGzip) sumIn() {
	for p := range z.sums {
		z.crc = crc32.Update(z.crc, crc32.IEEETable, p.in)
		z.size += uint32(len(p.in))
		if z.sum != nil {
			z.sum.Write(p.in)
		}
		close(p.sumd)
	}
}

func write(w io.Writer, b []byte) error {
	_, err := w.Write(b)
	return err
}

// fail keeps err if it is the first failure, and returns the first.
func (z *blockGzip) fail(err error) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.werr == nil {
		z.werr = err
	}
	return z.werr
}

func (z *blockGzip) failed() error { return z.fail(nil) }

// gzCompressor deflates blocks; its writers are made on first use, as a
// layer that is all stored never needs the deflating one.
type gzCompressor struct {
	deflater, storer, prober *flate.Writer
}

func (c *gzCompressor) deflate(p *gzPart) error {
	var fw *flate.Writer
	var err error
	if c.incompressible(p.in) {
		if c.storer == nil {
			c.storer, err = flate.NewWriter(nil, flate.NoCompression)
		}
		fw = c.storer
	} else {
		if c.deflater == nil {
			c.deflater, err = flate.NewWriter(nil, flate.DefaultCompression)
		}
		fw = c.deflater
	}
	if err != nil {
		return err
	}
	fw.ResetDict(&p.out, p.dict)
	if _, err := fw.Write(p.in); err != nil {
		return err
	}
	// A sync flush ends a block on a byte boundary without ending the
	// stream: the next block's deflate follows it directly.
	if p.last {
		return fw.Close()
	}
	return fw.Flush()
}

// Sampling: eight pieces spread over a block (the whole of a short one),
// deflated at the fastest level; a block whose pieces save less than
// 1/gzSaves of their size is stored. On a tar of /usr (binaries, Perl,
// Python, docs) the gzip is 0.1% larger than pgzip's, made in about the
// same time; on incompressible data it takes a sixth of pgzip's time. (At
// 1/64 /usr grew by less, but blocks of incompressible files with their
// tar headers sampled as compressible, and deflate saved nothing on them.)
const (
	gzPiece  = 8 << 10
	gzPieces = 8
	gzSaves  = 32
)

func (c *gzCompressor) incompressible(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	if c.prober == nil {
		var err error
		if c.prober, err = flate.NewWriter(nil, flate.BestSpeed); err != nil {
			return false
		}
	}
	probed := countWriter{w: io.Discard}
	sampled := 0
	probe := func(piece []byte) {
		c.prober.Reset(&probed)
		_, _ = c.prober.Write(piece)
		_ = c.prober.Close()
		sampled += len(piece)
	}
	if len(b) <= gzPieces*gzPiece {
		probe(b)
	} else {
		for i := range gzPieces {
			off := i * (len(b) - gzPiece) / (gzPieces - 1)
			probe(b[off : off+gzPiece])
		}
	}
	return probed.n >= int64(sampled-sampled/gzSaves)
}
