package batching

import (
	"math/rand/v2"
	"testing"
	"time"
)

// stepClock drives a scheduler the way the simulator's real-time loop does,
// on a made-up clock advanced by the cost model.
type stepClock struct {
	t     *testing.T
	s     *Scheduler
	cost  CostModel
	now   time.Duration
	check bool // verify the block accounting after every step (O(blocks))
}

func newClock(t *testing.T, cfg Config) *stepClock {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &stepClock{t: t, s: s, cost: H100Llama3_8B(), check: true}
}

// step runs one engine step and returns its batch (a copy) and events.
func (c *stepClock) step() (Batch, []Event) {
	b := c.s.Schedule(c.now)
	c.now += c.cost.StepTime(b)
	cp := *b
	cp.Reqs = append([]Scheduled(nil), b.Reqs...)
	ev := c.s.Finish(c.now)
	if c.check {
		c.checkInvariants()
	}
	return cp, append([]Event(nil), ev...)
}

// runAll steps until no work is left, failing after limit steps.
func (c *stepClock) runAll(limit int) {
	for i := 0; c.s.HasWork(); i++ {
		if i == limit {
			c.t.Fatalf("no progress after %d steps: %d running, %d waiting", limit, c.s.NumRunning(), c.s.NumWaiting())
		}
		c.step()
	}
}

// checkInvariants verifies block accounting: every referenced block is held
// by exactly ref running requests, free blocks are exactly the unreferenced
// ones, and each running request holds enough blocks for its computed tokens.
func (c *stepClock) checkInvariants() {
	c.t.Helper()
	kv := c.s.kv
	refs := make([]int32, kv.numBlocks())
	for _, r := range c.s.running {
		if need := (r.numComputed + kv.blockSize - 1) / kv.blockSize; len(r.blocks) < need {
			c.t.Fatalf("request holds %d blocks for %d computed tokens", len(r.blocks), r.numComputed)
		}
		for _, b := range r.blocks {
			refs[b]++
		}
	}
	for _, r := range c.s.waiting {
		if len(r.blocks) != 0 || r.numComputed != 0 {
			c.t.Fatalf("waiting request holds %d blocks, %d computed tokens", len(r.blocks), r.numComputed)
		}
	}
	free := 0
	for b := int32(0); b < int32(kv.numBlocks()); b++ {
		if refs[b] != kv.ref[b] {
			c.t.Fatalf("block %d: ref %d, held by %d requests", b, kv.ref[b], refs[b])
		}
	}
	for b := kv.head; b >= 0; b = kv.next[b] {
		if kv.ref[b] != 0 {
			c.t.Fatalf("block %d in the free queue with ref %d", b, kv.ref[b])
		}
		free++
	}
	if free != kv.numFree {
		c.t.Fatalf("free queue has %d blocks, numFree says %d", free, kv.numFree)
	}
	for h, b := range kv.cached {
		if kv.hash[b] != h {
			c.t.Fatalf("cache maps %x to block %d holding %x", h, b, kv.hash[b])
		}
	}
	if len(c.s.running) > c.s.cfg.MaxNumSeqs {
		c.t.Fatalf("%d running > max %d", len(c.s.running), c.s.cfg.MaxNumSeqs)
	}
}

func seqPrompt(n int, base int32) []int32 {
	p := make([]int32, n)
	for i := range p {
		p[i] = base + int32(i)
	}
	return p
}

func newReq(prompt []int32, out int) *Request {
	return &Request{Prompt: prompt, OutputLen: out, OutputToken: func(i int) int32 { return int32(500000 + i) }}
}

func cfgSmall() Config {
	return Config{MaxNumSeqs: 8, MaxNumBatchedTokens: 256, BlockSize: 16, NumBlocks: 256, PrefixCaching: true}
}

func TestPrefixCacheHitOnRepeatedPrompt(t *testing.T) {
	c := newClock(t, cfgSmall())
	prompt := seqPrompt(100, 1000) // 6 full blocks + 4 tokens
	a := newReq(prompt, 3)
	c.s.Add(a, c.now)
	c.runAll(100)
	if a.CachedTokens != 0 {
		t.Fatalf("first request: %d cached tokens on a cold cache", a.CachedTokens)
	}
	b := newReq(prompt, 3)
	c.s.Add(b, c.now)
	batch, _ := c.step()
	if b.CachedTokens != 96 {
		t.Fatalf("repeat: %d cached tokens, want 96 (6 full blocks)", b.CachedTokens)
	}
	if batch.PrefillTokens != 4 || batch.CacheHits != 96 || batch.CacheQueries != 100 {
		t.Fatalf("repeat batch: prefill %d, hits %d/%d; want 4, 96/100", batch.PrefillTokens, batch.CacheHits, batch.CacheQueries)
	}
	c.runAll(100)

	// A prompt of exactly 6 blocks must still compute its last token, so
	// only 5 blocks can hit.
	d := newReq(prompt[:96], 1)
	c.s.Add(d, c.now)
	c.step()
	if d.CachedTokens != 80 {
		t.Fatalf("block-aligned repeat: %d cached tokens, want 80", d.CachedTokens)
	}
	// A different prompt sharing the first two blocks hits only those.
	other := append(seqPrompt(32, 1000), seqPrompt(40, 9000)...)
	e := newReq(other, 1)
	c.s.Add(e, c.now)
	c.step()
	if e.CachedTokens != 32 {
		t.Fatalf("shared prefix: %d cached tokens, want 32", e.CachedTokens)
	}
	tot := c.s.Totals()
	if tot.CacheHits != 96+80+32 || tot.CacheQueries != 100+100+96+72 {
		t.Fatalf("totals %+v", tot)
	}
}

func TestPrefixCachingOffNeverHits(t *testing.T) {
	cfg := cfgSmall()
	cfg.PrefixCaching = false
	c := newClock(t, cfg)
	for range 2 {
		r := newReq(seqPrompt(100, 1000), 2)
		c.s.Add(r, c.now)
		c.runAll(100)
		if r.CachedTokens != 0 {
			t.Fatalf("%d cached tokens with prefix caching off", r.CachedTokens)
		}
	}
}

// Generated tokens fill blocks too: a follow-up turn that replays the first
// turn's answer hits the blocks the answer was written to.
func TestPrefixCacheCoversGeneratedTokens(t *testing.T) {
	c := newClock(t, cfgSmall())
	a := newReq(seqPrompt(20, 1000), 30) // 50 tokens: blocks 0..2 full
	c.s.Add(a, c.now)
	c.runAll(100)
	follow := append([]int32(nil), a.Prompt...)
	for i := range 30 {
		follow = append(follow, a.OutputToken(i))
	}
	follow = append(follow, seqPrompt(10, 7000)...)
	b := newReq(follow, 1)
	c.s.Add(b, c.now)
	c.step()
	if b.CachedTokens != 48 {
		t.Fatalf("follow-up: %d cached tokens, want 48 (3 blocks of prompt+answer)", b.CachedTokens)
	}
}

func TestChunkedPrefillSplitsLongPrompt(t *testing.T) {
	cfg := cfgSmall()
	cfg.MaxNumBatchedTokens = 64
	c := newClock(t, cfg)
	r := newReq(seqPrompt(150, 1000), 2)
	c.s.Add(r, c.now)
	var chunks []int
	for r.NumOutput == 0 {
		b, ev := c.step()
		chunks = append(chunks, b.PrefillTokens)
		if len(ev) > 0 && !ev[0].First {
			t.Fatal("first event is not flagged First")
		}
	}
	if len(chunks) != 3 || chunks[0] != 64 || chunks[1] != 64 || chunks[2] != 22 {
		t.Fatalf("prefill chunks %v, want [64 64 22]", chunks)
	}
	// While the long prompt prefills, a decoding request keeps decoding.
	c2 := newClock(t, cfg)
	short := newReq(seqPrompt(10, 1), 20)
	c2.s.Add(short, c2.now)
	c2.step() // short prefilled, first token
	long := newReq(seqPrompt(150, 5000), 1)
	c2.s.Add(long, c2.now)
	for range 3 {
		b, _ := c2.step()
		if b.DecodeTokens != 1 || b.Tokens() > 64 {
			t.Fatalf("batch %+v: want the decode plus at most 63 prefill tokens", b)
		}
	}
}

func TestPreemptionWhenKVIsTiny(t *testing.T) {
	cfg := Config{MaxNumSeqs: 4, MaxNumBatchedTokens: 64, BlockSize: 4, NumBlocks: 12, PrefixCaching: true}
	c := newClock(t, cfg)
	var reqs []*Request
	for i := range 3 {
		r := newReq(seqPrompt(8, int32(100*i+1)), 24) // 32 tokens = 8 blocks each, 12 in all
		reqs = append(reqs, r)
		c.s.Add(r, c.now)
	}
	produced := map[*Request]int{}
	for i := 0; c.s.HasWork(); i++ {
		if i > 2000 {
			t.Fatal("no progress")
		}
		_, ev := c.step()
		for _, e := range ev {
			produced[e.Req]++
		}
	}
	if c.s.Totals().Preemptions == 0 {
		t.Fatal("no preemption although 3 x 8 blocks do not fit in 12")
	}
	for i, r := range reqs {
		if r.Status() != Finished || produced[r] != 24 || r.NumOutput != 24 {
			t.Fatalf("request %d: status %v, %d events, %d outputs; want finished with 24", i, r.Status(), produced[r], r.NumOutput)
		}
	}
	if c.s.FreeBlocks() != cfg.NumBlocks || c.s.KVUsage() != 0 {
		t.Fatalf("%d of %d blocks free after all finished (usage %v)", c.s.FreeBlocks(), cfg.NumBlocks, c.s.KVUsage())
	}
	// The most recently admitted request is the victim (FCFS priority).
	if reqs[0].Preemptions != 0 {
		t.Fatalf("the oldest request was preempted %d times", reqs[0].Preemptions)
	}
}

func TestMaxNumSeqsBoundsTheBatch(t *testing.T) {
	cfg := cfgSmall()
	cfg.MaxNumSeqs = 3
	c := newClock(t, cfg)
	for i := range 10 {
		c.s.Add(newReq(seqPrompt(5, int32(i*10+1)), 4), c.now)
	}
	b, _ := c.step()
	if b.Admitted != 3 || c.s.NumRunning() != 3 || c.s.NumWaiting() != 7 {
		t.Fatalf("admitted %d, running %d, waiting %d; want 3, 3, 7", b.Admitted, c.s.NumRunning(), c.s.NumWaiting())
	}
	c.runAll(1000)
}

func TestAbortFreesBlocks(t *testing.T) {
	c := newClock(t, cfgSmall())
	a, b := newReq(seqPrompt(40, 1), 100), newReq(seqPrompt(40, 1000), 100)
	c.s.Add(a, c.now)
	c.step()
	c.s.Add(b, c.now)
	c.s.Abort(a)
	c.s.Abort(b)
	if a.Status() != Aborted || b.Status() != Aborted || c.s.HasWork() {
		t.Fatalf("after aborts: %v %v, work %v", a.Status(), b.Status(), c.s.HasWork())
	}
	if c.s.FreeBlocks() != cfgSmall().NumBlocks {
		t.Fatalf("%d blocks free after aborting everything", c.s.FreeBlocks())
	}
}

// Cached blocks are evicted least recently freed first.
func TestEvictionOrder(t *testing.T) {
	cfg := Config{MaxNumSeqs: 4, MaxNumBatchedTokens: 64, BlockSize: 4, NumBlocks: 8, PrefixCaching: true}
	c := newClock(t, cfg)
	// 13-token prompts: 3 full (cacheable) blocks and one partial, so each
	// request uses 4 of the 8 blocks.
	c.s.Add(newReq(seqPrompt(13, 1), 1), c.now) // "old"
	c.runAll(10)
	c.s.Add(newReq(seqPrompt(13, 100), 1), c.now) // "recent"
	c.runAll(10)
	// A third prompt needs 4 fresh blocks: it must take old's, not recent's.
	c.s.Add(newReq(seqPrompt(13, 500), 1), c.now)
	c.runAll(10)
	recent := newReq(seqPrompt(13, 100), 1)
	c.s.Add(recent, c.now)
	c.runAll(10)
	if recent.CachedTokens != 12 {
		t.Fatalf("recently freed prompt: %d cached tokens, want 12", recent.CachedTokens)
	}
	old := newReq(seqPrompt(13, 1), 1)
	c.s.Add(old, c.now)
	c.runAll(10)
	if old.CachedTokens != 0 {
		t.Fatalf("least recently freed prompt still cached (%d tokens): eviction is not LRU", old.CachedTokens)
	}
}

// A random workload keeps every invariant and finishes every request with
// exactly its output length.
func TestRandomWorkloadInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cfg := Config{MaxNumSeqs: 16, MaxNumBatchedTokens: 128, BlockSize: 8, NumBlocks: 96, PrefixCaching: true}
	c := newClock(t, cfg)
	var reqs []*Request
	shared := seqPrompt(64, 77)
	for step := 0; step < 3000; step++ {
		if step < 1500 && rng.IntN(3) == 0 {
			n := 1 + rng.IntN(200)
			p := seqPrompt(n, int32(rng.IntN(1e6)))
			if rng.IntN(2) == 0 {
				copy(p, shared)
			}
			r := newReq(p, 1+rng.IntN(200))
			if len(r.Prompt)+r.OutputLen > cfg.NumBlocks*cfg.BlockSize {
				continue
			}
			reqs = append(reqs, r)
			c.s.Add(r, c.now)
		}
		if step%97 == 0 && len(reqs) > 0 {
			c.s.Abort(reqs[rng.IntN(len(reqs))])
		}
		if c.s.HasWork() {
			c.step()
		}
	}
	c.runAll(100000)
	for i, r := range reqs {
		switch r.Status() {
		case Finished:
			if r.NumOutput != r.OutputLen {
				t.Fatalf("request %d finished with %d of %d tokens", i, r.NumOutput, r.OutputLen)
			}
		case Aborted:
		default:
			t.Fatalf("request %d left in status %v", i, r.Status())
		}
	}
	if c.s.FreeBlocks() != cfg.NumBlocks {
		t.Fatalf("%d blocks leaked", cfg.NumBlocks-c.s.FreeBlocks())
	}
	if c.s.Totals().CacheHits == 0 || c.s.Totals().Preemptions == 0 {
		t.Fatalf("workload did not exercise the cache and preemption: %+v", c.s.Totals())
	}
}

func TestScheduleFinishPairing(t *testing.T) {
	s, _ := New(cfgSmall())
	defer func() {
		if recover() == nil {
			t.Fatal("Finish without Schedule did not panic")
		}
	}()
	s.Finish(0)
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []Config{
		{MaxNumSeqs: 0, MaxNumBatchedTokens: 1, BlockSize: 1, NumBlocks: 1},
		{MaxNumSeqs: 1, MaxNumBatchedTokens: 0, BlockSize: 1, NumBlocks: 1},
		{MaxNumSeqs: 1, MaxNumBatchedTokens: 1, BlockSize: 0, NumBlocks: 1},
		{MaxNumSeqs: 1, MaxNumBatchedTokens: 1, BlockSize: 1, NumBlocks: 0},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted an invalid config", c)
		}
	}
}
