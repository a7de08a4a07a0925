package squash

import "testing"

func TestChunkCacheKeepsTheRecent(t *testing.T) {
	var c chunkCache
	r := &regular{}
	for i := range int64(maxChunks + 2) {
		c.add(chunkKey{r, i}, []byte{byte(i)})
	}
	if _, ok := c.get(chunkKey{r, 0}); ok {
		t.Error("the oldest chunk is still cached past maxChunks")
	}
	if b, ok := c.get(chunkKey{r, 2}); !ok || b[0] != 2 {
		t.Errorf("chunk 2: %v %v", b, ok)
	}
	c.add(chunkKey{r, 100}, []byte{100}) // evicts 3, not 2, which was just used
	if _, ok := c.get(chunkKey{r, 2}); !ok {
		t.Error("a chunk just read was evicted")
	}
	if _, ok := c.get(chunkKey{r, 3}); ok {
		t.Error("the least recently used chunk was kept")
	}
	if len(c.data) != maxChunks || c.order.Len() != maxChunks {
		t.Errorf("cache holds %d/%d chunks, want %d", len(c.data), c.order.Len(), maxChunks)
	}
}
