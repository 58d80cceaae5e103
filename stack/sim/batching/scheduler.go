package batching

import (
	"fmt"
	"time"
)

// Config sizes the scheduler with vLLM's engine arguments of the same names.
type Config struct {
	MaxNumSeqs          int  // --max-num-seqs: running requests at most
	MaxNumBatchedTokens int  // --max-num-batched-tokens: tokens per step (chunked prefill budget)
	BlockSize           int  // --block-size: tokens per KV block
	NumBlocks           int  // --num-gpu-blocks: KV capacity in blocks
	PrefixCaching       bool // --enable-prefix-caching
}

func (c Config) validate() error {
	switch {
	case c.MaxNumSeqs < 1:
		return fmt.Errorf("engine: MaxNumSeqs must be at least 1, got %d", c.MaxNumSeqs)
	case c.MaxNumBatchedTokens < 1:
		return fmt.Errorf("engine: MaxNumBatchedTokens must be at least 1, got %d", c.MaxNumBatchedTokens)
	case c.BlockSize < 1:
		return fmt.Errorf("engine: BlockSize must be at least 1, got %d", c.BlockSize)
	case c.NumBlocks < 1:
		return fmt.Errorf("engine: NumBlocks must be at least 1, got %d", c.NumBlocks)
	}
	return nil
}

// Status is where a request is in its life.
type Status uint8

const (
	Waiting  Status = iota // queued, never run or preempted
	Running                // in the running batch
	Finished               // produced OutputLen tokens
	Aborted                // removed by Abort
)

// Request is one sequence. The caller fills the exported inputs before Add
// and may read the exported timestamps and counters at any time from the
// goroutine that drives the Scheduler; everything else is the scheduler's.
type Request struct {
	Prompt      []int32           // prompt token ids
	OutputLen   int               // tokens to generate before finishing (at least 1)
	OutputToken func(i int) int32 // id of the i-th generated token, for block hashes
	Tag         any               // caller's handle, returned untouched in events

	Arrival        time.Duration // when Add was called
	FirstScheduled time.Duration // start of the first step that ran it
	FirstToken     time.Duration // end of the step that produced its first token
	LastToken      time.Duration // end of the step that produced its latest token
	NumOutput      int           // tokens generated so far
	CachedTokens   int           // prompt tokens served by the prefix cache when first admitted
	Preemptions    int           // times it was preempted

	status        Status
	scheduled     bool // FirstScheduled is set
	numComputed   int  // tokens whose KV is in the cache
	blocks        []int32
	hashes        []uint64 // chained hashes of full blocks, computed lazily
	numRegistered int      // leading blocks already offered to the prefix cache
}

// Status reports where the request is.
func (r *Request) Status() Status { return r.status }

// NumTokens is the sequence length so far: prompt plus generated tokens.
func (r *Request) NumTokens() int { return len(r.Prompt) + r.NumOutput }

// NumComputed is the number of tokens whose KV is computed.
func (r *Request) NumComputed() int { return r.numComputed }

// NumBlocks is the number of KV blocks the request holds.
func (r *Request) NumBlocks() int { return len(r.blocks) }

func (r *Request) token(i int) int32 {
	if i < len(r.Prompt) {
		return r.Prompt[i]
	}
	return r.OutputToken(i - len(r.Prompt))
}

// blockHash is the chained hash of full block i: FNV-1a over the parent
// block's hash and this block's token ids, as vLLM chains
// hash(parent_hash, block_token_ids). Only called for full blocks.
func (r *Request) blockHash(i, blockSize int) uint64 {
	for len(r.hashes) <= i {
		j := len(r.hashes)
		h := uint64(14695981039346656037)
		var parent uint64
		if j > 0 {
			parent = r.hashes[j-1]
		}
		for s := 0; s < 64; s += 8 {
			h ^= (parent >> s) & 0xff
			h *= 1099511628211
		}
		for t := j * blockSize; t < (j+1)*blockSize; t++ {
			v := uint32(r.token(t))
			for s := 0; s < 32; s += 8 {
				h ^= uint64((v >> s) & 0xff)
				h *= 1099511628211
			}
		}
		if h == 0 {
			h = 1 // 0 marks "not cached"
		}
		r.hashes = append(r.hashes, h)
	}
	return r.hashes[i]
}

// Scheduled is one request's share of a step.
type Scheduled struct {
	Req    *Request
	NumNew int  // tokens computed for it this step
	Decode bool // a single token of an already prefilled sequence
}

// Batch is what one step runs.
type Batch struct {
	Reqs          []Scheduled
	PrefillTokens int   // prompt (or recomputed) tokens in the step
	DecodeTokens  int   // one per decoding sequence
	DecodeContext int64 // KV tokens the decoding sequences attend to
	PrefillPairs  int64 // (query, key) pairs the prefill chunks attend to
	Preempted     int   // requests preempted while building the batch
	Admitted      int   // requests moved from waiting to running
	CacheQueries  int   // tokens looked up in the prefix cache
	CacheHits     int   // of those, tokens found
}

// Tokens is the number of tokens the step computes.
func (b *Batch) Tokens() int { return b.PrefillTokens + b.DecodeTokens }

// Event is one request's outcome of a finished step.
type Event struct {
	Req       *Request
	PrevToken time.Duration // when the previous token was produced (zero for the first)
	First     bool          // the token is the request's first
	Finished  bool          // the request reached OutputLen and left the batch
}

// Scheduler is vLLM V1's scheduling policy (FCFS, chunked prefill, recompute
// preemption). It is not safe for concurrent use: one goroutine drives it.
type Scheduler struct {
	cfg     Config
	kv      *kvCache
	waiting []*Request // FIFO; waiting[0] is next
	running []*Request // admission order; the last one is preempted first

	batch   Batch
	events  []Event
	hitBuf  []int32
	pending bool // a batch was scheduled and not finished yet

	preemptions  int64
	cacheQueries int64
	cacheHits    int64
	promptTokens int64
	outputTokens int64
}

// New returns an idle scheduler with an empty KV cache.
func New(cfg Config) (*Scheduler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Scheduler{cfg: cfg, kv: newKVCache(cfg.NumBlocks, cfg.BlockSize, cfg.PrefixCaching)}, nil
}

// Config returns the configuration the scheduler was built with.
func (s *Scheduler) Config() Config { return s.cfg }

// Add queues a new request at time now.
func (s *Scheduler) Add(r *Request, now time.Duration) {
	if r.OutputLen < 1 {
		r.OutputLen = 1
	}
	r.Arrival = now
	r.status = Waiting
	s.waiting = append(s.waiting, r)
}

// Abort removes a waiting or running request and frees its blocks. It must
// not be called between Schedule and Finish.
func (s *Scheduler) Abort(r *Request) {
	switch r.status {
	case Waiting:
		s.waiting = remove(s.waiting, r)
	case Running:
		s.running = remove(s.running, r)
		s.kv.release(r.blocks)
		r.blocks = r.blocks[:0]
	default:
		return
	}
	r.status = Aborted
}

func remove(q []*Request, r *Request) []*Request {
	for i, x := range q {
		if x == r {
			copy(q[i:], q[i+1:])
			q[len(q)-1] = nil
			return q[:len(q)-1]
		}
	}
	return q
}

// HasWork reports whether any request is waiting or running.
func (s *Scheduler) HasWork() bool { return len(s.waiting)+len(s.running) > 0 }

// NumRunning and NumWaiting are vLLM's num_requests_running/waiting.
func (s *Scheduler) NumRunning() int { return len(s.running) }
func (s *Scheduler) NumWaiting() int { return len(s.waiting) }

// KVUsage is vLLM's kv_cache_usage_perc (0..1).
func (s *Scheduler) KVUsage() float64 { return s.kv.usage() }

// FreeBlocks is the number of blocks not referenced by any request.
func (s *Scheduler) FreeBlocks() int { return s.kv.numFree }

// Totals are the cumulative counters behind vLLM's prefix-cache and
// preemption metrics.
type Totals struct {
	Preemptions  int64
	CacheQueries int64 // tokens looked up in the prefix cache
	CacheHits    int64 // tokens found there
	PromptTokens int64 // prompt tokens of requests that produced a first token
	OutputTokens int64 // tokens generated
}

// Totals returns the cumulative counters.
func (s *Scheduler) Totals() Totals {
	return Totals{s.preemptions, s.cacheQueries, s.cacheHits, s.promptTokens, s.outputTokens}
}

// Schedule builds the next step's batch at time now. The returned batch is
// valid until the next call to Schedule and must be completed with Finish.
func (s *Scheduler) Schedule(now time.Duration) *Batch {
	if s.pending {
		panic("engine: Schedule called twice without Finish")
	}
	s.pending = true
	b := &s.batch
	*b = Batch{Reqs: b.Reqs[:0]}
	budget := s.cfg.MaxNumBatchedTokens

	// Running requests first, in admission order. A request that cannot get
	// the blocks it needs preempts the most recently admitted one.
	for i := 0; i < len(s.running) && budget > 0; i++ {
		r := s.running[i]
		n := r.NumTokens() - r.numComputed
		if n > budget {
			n = budget
		}
		if n <= 0 {
			continue
		}
		ok := true
		for !s.allocate(r, n, nil) {
			victim := s.running[len(s.running)-1]
			s.running = s.running[:len(s.running)-1]
			s.preempt(victim)
			b.Preempted++
			if victim == r {
				ok = false
				break
			}
		}
		if !ok {
			break
		}
		s.add(b, r, n)
		budget -= n
	}

	// Then waiting requests, unless this step had to preempt: the cache is
	// full and admitting more would only cause more preemptions.
	for b.Preempted == 0 && len(s.waiting) > 0 && budget > 0 && len(s.running) < s.cfg.MaxNumSeqs {
		r := s.waiting[0]
		hits := s.hitBuf[:0]
		if r.numComputed == 0 {
			hits = s.prefixHits(r, hits)
		}
		computed := len(hits) * s.cfg.BlockSize
		n := r.NumTokens() - computed
		if n > budget {
			n = budget
		}
		if !s.allocate(r, n, hits) {
			s.hitBuf = hits
			break
		}
		s.hitBuf = hits
		s.waiting = s.waiting[1:]
		if len(s.waiting) == 0 {
			s.waiting = s.waiting[:0:0]
		}
		if !r.scheduled {
			r.scheduled = true
			r.FirstScheduled = now
			r.CachedTokens = computed
		}
		s.cacheQueries += int64(r.NumTokens())
		s.cacheHits += int64(computed)
		b.CacheQueries += r.NumTokens()
		b.CacheHits += computed
		r.numComputed = computed
		r.status = Running
		s.running = append(s.running, r)
		b.Admitted++
		s.add(b, r, n)
		budget -= n
	}
	return b
}

func (s *Scheduler) add(b *Batch, r *Request, n int) {
	decode := n == 1 && r.NumOutput > 0 && r.numComputed == r.NumTokens()-1
	b.Reqs = append(b.Reqs, Scheduled{Req: r, NumNew: n, Decode: decode})
	if decode {
		b.DecodeTokens++
		b.DecodeContext += int64(r.numComputed + 1)
		return
	}
	b.PrefillTokens += n
	// Causal attention: query j of the chunk sees numComputed+j+1 keys.
	b.PrefillPairs += int64(n) * (int64(r.numComputed) + int64(n+1)/2)
}

// prefixHits appends the cached blocks that start r's sequence. At least
// one token is always left to compute, as in vLLM, so that the step yields
// logits for the next token.
func (s *Scheduler) prefixHits(r *Request, hits []int32) []int32 {
	if !s.cfg.PrefixCaching {
		return hits
	}
	maxBlocks := (r.NumTokens() - 1) / s.cfg.BlockSize
	for i := 0; i < maxBlocks; i++ {
		blk, ok := s.kv.lookup(r.blockHash(i, s.cfg.BlockSize))
		if !ok {
			break
		}
		hits = append(hits, blk)
	}
	return hits
}

// allocate gives r the blocks for n more tokens (after its computed ones and
// any prefix hits). It fails without side effects when the pool is short.
func (s *Scheduler) allocate(r *Request, n int, hits []int32) bool {
	bs := s.cfg.BlockSize
	have := len(r.blocks) + len(hits)
	computed := r.numComputed
	if len(hits) > 0 {
		computed = len(hits) * bs
	}
	need := (computed+n+bs-1)/bs - have
	if need < 0 {
		need = 0
	}
	evictable := 0 // hit blocks that sit in the free queue and would leave it
	for _, h := range hits {
		if s.kv.ref[h] == 0 {
			evictable++
		}
	}
	if need+evictable > s.kv.numFree {
		return false
	}
	for _, h := range hits {
		s.kv.touch(h)
		r.blocks = append(r.blocks, h)
	}
	if len(hits) > 0 {
		r.numRegistered = len(hits)
	}
	for range need {
		r.blocks = append(r.blocks, s.kv.popFree())
	}
	return true
}

// preempt frees r's blocks and puts it back at the head of the queue; it
// will recompute its prompt and generated tokens (vLLM's recompute mode).
func (s *Scheduler) preempt(r *Request) {
	s.kv.release(r.blocks)
	r.blocks = r.blocks[:0]
	r.numComputed = 0
	r.numRegistered = 0
	r.status = Waiting
	r.Preemptions++
	s.preemptions++
	s.waiting = append(s.waiting, nil)
	copy(s.waiting[1:], s.waiting)
	s.waiting[0] = r
}

// Finish completes the batch returned by the last Schedule at time now: the
// computed tokens enter the KV cache, full blocks become cacheable, and every
// request whose sequence is fully computed produces one token. The events
// are valid until the next call to Finish.
func (s *Scheduler) Finish(now time.Duration) []Event {
	if !s.pending {
		panic("engine: Finish called without Schedule")
	}
	s.pending = false
	s.events = s.events[:0]
	bs := s.cfg.BlockSize
	finished := 0
	for _, sc := range s.batch.Reqs {
		r := sc.Req
		if r.status != Running {
			continue
		}
		r.numComputed += sc.NumNew
		for full := r.numComputed / bs; r.numRegistered < full; r.numRegistered++ {
			s.kv.register(r.blocks[r.numRegistered], r.blockHash(r.numRegistered, bs))
		}
		if r.numComputed < r.NumTokens() {
			continue // a prefill chunk: no token yet
		}
		r.NumOutput++
		s.outputTokens++
		ev := Event{Req: r, PrevToken: r.LastToken, First: r.NumOutput == 1}
		if ev.First {
			r.FirstToken = now
			s.promptTokens += int64(len(r.Prompt))
		}
		r.LastToken = now
		if r.NumOutput >= r.OutputLen {
			ev.Finished = true
			r.status = Finished
			s.kv.release(r.blocks)
			r.blocks = r.blocks[:0]
			finished++
		}
		s.events = append(s.events, ev)
	}
	if finished > 0 {
		keep := s.running[:0]
		for _, r := range s.running {
			if r.status == Running {
				keep = append(keep, r)
			}
		}
		clear(s.running[len(keep):])
		s.running = keep
	}
	return s.events
}
