package transfer

import (
	"context"
	"crypto/sha256"
	"io"
	"strings"
	"testing"
)

// A layer that reads back otherwise than the store records fails the
// read at its end; one that matches reads through, and closes once.
func TestCheckedTar(t *testing.T) {
	good := "a layer's tar"
	b := blob{layer: "0123456789abcdef", size: int64(len(good)), diffID: hashOf(sum(good))}
	for _, tc := range []struct {
		name, content string
		fails         bool
	}{
		{"matching", good, false},
		{"other bytes", "a layer's taR", true},
		{"short", good[:5], true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			closes := 0
			rc := &countClose{Reader: strings.NewReader(tc.content), n: &closes}
			c := &checkedTar{ctx: context.Background(), rc: rc, b: b, sum: sha256.New()}
			_, err := io.ReadAll(c)
			if (err != nil) != tc.fails {
				t.Fatalf("read error %v, want failure %v", err, tc.fails)
			}
			_ = c.Close()
			_ = c.Close()
			if closes != 1 {
				t.Fatalf("the store's reader was closed %d times, want 1", closes)
			}
		})
	}
}

func sum(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

type countClose struct {
	io.Reader
	n *int
}

func (c *countClose) Close() error { *c.n++; return nil }
