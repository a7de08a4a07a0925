package build

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"husk/store"
)

// The layer cache: a step's key is the digest of everything it depends
// on (the previous step's key, the instruction as expanded, the build
// args in scope, the content of its sources); its entry names the layer
// it made. An entry whose layer is gone is a miss.
type cache struct {
	dir string // "" with --no-cache: nothing read, entries still written
	off bool
}

type entry struct {
	Layer  string `json:"layer,omitempty"` // "" for a step that made no layer
	DiffID string `json:"diffID,omitempty"`
	Size   int64  `json:"size,omitempty"`
	Image  string `json:"image,omitempty"` // for a whole build: the image it made
}

func openCache(s *store.Store, off bool) *cache {
	return &cache{dir: filepath.Join(s.GraphRoot(), "husk-build-cache"), off: off}
}

// nextKey chains a step onto the key before it.
func nextKey(prev string, parts ...string) string {
	h := sha256.New()
	h.Write([]byte(prev))
	for _, p := range parts {
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (c *cache) get(key string) (entry, bool) {
	var e entry
	if c.off {
		return e, false
	}
	b, err := os.ReadFile(filepath.Join(c.dir, key))
	if err != nil || json.Unmarshal(b, &e) != nil {
		return e, false
	}
	return e, true
}

// put records an entry; a cache that cannot be written only costs the
// next build its speed.
func (c *cache) put(key string, e entry) {
	b, err := json.Marshal(e)
	if err != nil || os.MkdirAll(c.dir, 0o700) != nil {
		return
	}
	// A temporary of its own: two stages of one build may put one key.
	f, err := os.CreateTemp(c.dir, key+".*.tmp")
	if err != nil {
		return
	}
	_, werr := f.Write(b)
	if cerr := f.Close(); werr == nil && cerr == nil && os.Rename(f.Name(), filepath.Join(c.dir, key)) == nil {
		return
	}
	_ = os.Remove(f.Name())
}

// argsKey is the build args a step sees, in a fixed order.
func argsKey(args []string) string {
	return fmt.Sprint(strings.Join(args, "\x00"))
}
