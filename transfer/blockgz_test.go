package transfer

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/klauspost/pgzip"
)

// text is compressible input: numbered lines, as logs and sources are.
func text(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "line %d: the quick brown fox jumps over the lazy dog %d\n", i, i*i%977)
	}
	return b.Bytes()[:n]
}

func random(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// blockGzipOf is in gzipped, written in pieces of chunk bytes; the sum
// the gzip takes of its input must be in's.
func blockGzipOf(t *testing.T, in []byte, chunk int) []byte {
	t.Helper()
	var out bytes.Buffer
	sum := sha256.New()
	z := newBlockGzip(&out, sum)
	for p := in; len(p) > 0; {
		n := min(chunk, len(p))
		if _, err := z.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := sum.Sum(nil), sha256.Sum256(in); !bytes.Equal(got, want[:]) {
		t.Fatalf("the gzip's sum of its %d bytes of input is %x, not %x", len(in), got, want)
	}
	return out.Bytes()
}

func gunzip(t *testing.T, gz []byte) []byte {
	t.Helper()
	br := bytes.NewReader(gz)
	zr, err := gzip.NewReader(br)
	if err != nil {
		t.Fatal(err)
	}
	zr.Multistream(false) // one member, as a layer must be
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gunzip: %v", err)
	}
	if br.Len() != 0 {
		t.Fatalf("%d bytes after the gzip member", br.Len())
	}
	return b
}

// Any input, cut anywhere, gunzips (with its CRC and size checked) to
// itself, with blocks stored and deflated side by side.
func TestBlockGzipRoundTrip(t *testing.T) {
	r := random(t, 3<<20)
	mixed := append(append(append([]byte{}, r[:gzBlock]...), text(gzBlock+5000)...), r[gzBlock:2*gzBlock+7]...)
	for name, in := range map[string][]byte{
		"empty": {}, "one byte": {'x'}, "one block": text(gzBlock), "a block and a byte": text(gzBlock + 1),
		"random": r, "mixed": mixed, "short random": r[:1000], "many blocks": text(9*gzBlock + 123),
	} {
		for _, chunk := range []int{1 << 30, 4096, 7} {
			if chunk == 7 && len(in) > 2*gzBlock {
				continue
			}
			if got := gunzip(t, blockGzipOf(t, in, chunk)); !bytes.Equal(got, in) {
				t.Fatalf("%s in writes of %d: gunzips to %d bytes that differ from the %d written", name, chunk, len(got), len(in))
			}
		}
	}
}

// The bytes depend on the input alone, not on how it was written: a
// recorded digest holds for the next push.
func TestBlockGzipSameBytes(t *testing.T) {
	in := append(text(2*gzBlock+100), random(t, gzBlock)...)
	a, b := blockGzipOf(t, in, 1<<30), blockGzipOf(t, in, 1000)
	if !bytes.Equal(a, b) {
		t.Fatal("the same input gzipped to different bytes")
	}
}

// Incompressible blocks are stored (about the input's size, never much
// more); compressible ones shrink as much as pgzip shrinks them.
func TestBlockGzipSizes(t *testing.T) {
	r := random(t, 4<<20)
	if n := len(blockGzipOf(t, r, 1<<30)); n > len(r)+len(r)/1000 {
		t.Fatalf("random input of %d bytes gzipped to %d", len(r), n)
	}
	in := text(4 << 20)
	var ref bytes.Buffer
	pz := pgzip.NewWriter(&ref)
	_ = pz.SetConcurrency(gzBlock, gzAhead)
	_, _ = pz.Write(in)
	_ = pz.Close()
	if n := len(blockGzipOf(t, in, 1<<30)); n > ref.Len()+ref.Len()/100 {
		t.Fatalf("text of %d bytes gzipped to %d, pgzip gives %d", len(in), n, ref.Len())
	}
	// A block whose start is random but whose rest is text is deflated.
	half := append(random(t, gzPiece), text(gzBlock-gzPiece)...)
	if n := len(blockGzipOf(t, half, 1<<30)); n > gzBlock/2 {
		t.Fatalf("a block of mostly text gzipped to %d of %d bytes", n, gzBlock)
	}
}

type failAfter struct {
	n   int
	err error
}

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		return 0, f.err
	}
	f.n -= len(p)
	return len(p), nil
}

// A failing destination fails the writes after it, and Close.
func TestBlockGzipWriteFails(t *testing.T) {
	full := errors.New("no space left on device")
	z := newBlockGzip(&failAfter{n: gzBlock, err: full}, nil)
	var err error
	for range 20 {
		if _, err = z.Write(random(t, gzBlock)); err != nil {
			break
		}
	}
	if cerr := z.Close(); !errors.Is(err, full) && !errors.Is(cerr, full) {
		t.Fatalf("writes said %v, close %v; want %v", err, cerr, full)
	}
	if cerr := z.Close(); !errors.Is(cerr, full) {
		t.Fatalf("a second close said %v", cerr)
	}
}
