package transfer

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// A layer read ahead reads back byte for byte, through Read and WriteTo
// alike, and its source's failure at the end (a digest that does not
// match) is the reader's failure.
func TestTarAhead(t *testing.T) {
	data := strings.Repeat("0123456789abcdef", 3*chunkSize/16+5) // three chunks and a bit
	bad := errors.New("layer reads back otherwise")
	for _, tc := range []struct {
		name    string
		fail    error
		writeTo bool
	}{
		{"read", nil, false},
		{"write to", nil, true},
		{"failing read", bad, false},
		{"failing write to", bad, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ta := startAhead(func(w *chunkWriter) error {
				_, err := io.Copy(w, &failAtEnd{r: strings.NewReader(data), err: tc.fail})
				return err
			})
			defer ta.Close()
			var got bytes.Buffer
			var err error
			if tc.writeTo {
				_, err = ta.WriteTo(&got)
			} else {
				_, err = io.Copy(&got, struct{ io.Reader }{ta})
			}
			if !errors.Is(err, tc.fail) {
				t.Fatalf("error %v, want %v", err, tc.fail)
			}
			if tc.fail == nil && got.String() != data {
				t.Fatalf("read %d bytes back, not the %d written", got.Len(), len(data))
			}
		})
	}
}

// Closed before its end, a layer's reading stops and its source is closed
// before Close returns.
func TestTarAheadClose(t *testing.T) {
	closes := 0
	ta := startAhead(func(w *chunkWriter) error {
		src := &countClose{Reader: io.LimitReader(zeros{}, 100*chunkSize), n: &closes}
		defer src.Close()
		_, err := io.Copy(w, src)
		return err
	})
	if _, err := ta.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	ta.Close()
	ta.Close()
	if closes != 1 {
		t.Fatalf("the source was closed %d times, want 1", closes)
	}
}

type failAtEnd struct {
	r   io.Reader
	err error
}

func (f *failAtEnd) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF && f.err != nil {
		err = f.err
	}
	return n, err
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
