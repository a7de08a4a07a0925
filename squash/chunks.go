package squash

import "container/list"

// chunkSize is the unit the FUSE server decompresses and caches files in:
// squashfs's usual block size, and the kernel's largest FUSE read.
const chunkSize = 128 << 10

// maxChunks bounds the cache: 8 MiB, the working set of starting a
// program or two; the kernel's page cache keeps what was read.
const maxChunks = 64

type chunkKey struct {
	r   *regular
	idx int64
}

// chunkCache is a least-recently-used cache of decompressed chunks. The
// tree's lock guards it.
type chunkCache struct {
	order *list.List // of chunkKey, the most recent first
	m     map[chunkKey]*list.Element
	data  map[chunkKey][]byte
}

func (c *chunkCache) get(k chunkKey) ([]byte, bool) {
	e, ok := c.m[k]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return c.data[k], true
}

func (c *chunkCache) add(k chunkKey, b []byte) {
	if c.m == nil {
		c.order, c.m, c.data = list.New(), map[chunkKey]*list.Element{}, map[chunkKey][]byte{}
	}
	c.m[k], c.data[k] = c.order.PushFront(k), b
	for c.order.Len() > maxChunks {
		old := c.order.Remove(c.order.Back()).(chunkKey)
		delete(c.m, old)
		delete(c.data, old)
	}
}
