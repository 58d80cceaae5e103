package batching

// kvCache is a pool of fixed-size KV blocks with vLLM's prefix cache: a block
// that holds a full block of tokens is registered under the chained hash of
// its contents, stays cached after its last user frees it, and is evicted
// least-recently-freed first when a fresh block is needed.
type kvCache struct {
	blockSize int
	caching   bool

	ref  []int32  // users of each block
	hash []uint64 // hash of the cached contents; 0 = not cached

	// The free queue is an intrusive doubly linked list over block ids, in
	// eviction order: head is evicted first. Blocks join at the tail.
	prev, next []int32
	head, tail int32
	numFree    int

	cached map[uint64]int32 // hash -> block holding those tokens
}

func newKVCache(numBlocks, blockSize int, caching bool) *kvCache {
	c := &kvCache{
		blockSize: blockSize,
		caching:   caching,
		ref:       make([]int32, numBlocks),
		hash:      make([]uint64, numBlocks),
		prev:      make([]int32, numBlocks),
		next:      make([]int32, numBlocks),
		head:      -1,
		tail:      -1,
		cached:    make(map[uint64]int32),
	}
	for b := range numBlocks {
		c.pushTail(int32(b))
	}
	return c
}

func (c *kvCache) numBlocks() int { return len(c.ref) }

// usage is the fraction of blocks in use, as vLLM's kv_cache_usage_perc:
// cached blocks that nobody references count as free.
func (c *kvCache) usage() float64 {
	if len(c.ref) == 0 {
		return 0
	}
	return 1 - float64(c.numFree)/float64(len(c.ref))
}

func (c *kvCache) pushTail(b int32) {
	c.prev[b], c.next[b] = c.tail, -1
	if c.tail >= 0 {
		c.next[c.tail] = b
	} else {
		c.head = b
	}
	c.tail = b
	c.numFree++
}

func (c *kvCache) unlink(b int32) {
	p, n := c.prev[b], c.next[b]
	if p >= 0 {
		c.next[p] = n
	} else {
		c.head = n
	}
	if n >= 0 {
		c.prev[n] = p
	} else {
		c.tail = p
	}
	c.prev[b], c.next[b] = -1, -1
	c.numFree--
}

// popFree takes the least recently freed block, evicting whatever it caches.
func (c *kvCache) popFree() int32 {
	b := c.head
	c.unlink(b)
	if h := c.hash[b]; h != 0 {
		if c.cached[h] == b {
			delete(c.cached, h)
		}
		c.hash[b] = 0
	}
	c.ref[b] = 1
	return b
}

// touch adds a user to a cached block found by a prefix lookup.
func (c *kvCache) touch(b int32) {
	if c.ref[b] == 0 {
		c.unlink(b)
	}
	c.ref[b]++
}

// release drops one user from each block. Blocks are queued in reverse so
// that a sequence's tail is evicted before its prefix, which is the part
// other requests are likely to share.
func (c *kvCache) release(blocks []int32) {
	for i := len(blocks) - 1; i >= 0; i-- {
		b := blocks[i]
		c.ref[b]--
		if c.ref[b] == 0 {
			c.pushTail(b)
		}
	}
}

// lookup returns the block caching hash h, if any.
func (c *kvCache) lookup(h uint64) (int32, bool) {
	if !c.caching {
		return 0, false
	}
	b, ok := c.cached[h]
	return b, ok
}

// register records that block b holds the full block of tokens hashed h.
// When two requests computed the same block concurrently the first one
// stays the cached copy, as in vLLM.
func (c *kvCache) register(b int32, h uint64) {
	if !c.caching || c.hash[b] != 0 {
		return
	}
	if _, dup := c.cached[h]; dup {
		return
	}
	c.cached[h] = b
	c.hash[b] = h
}
