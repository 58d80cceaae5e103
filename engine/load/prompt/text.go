// Package prompt synthesises prompts of a requested token length for a
// model whose tokenizer the client does not have.
//
// Text prompts are random sequences of common English words, each of which
// is a single token (with or without a leading space) in the cl100k, o200k
// and Llama-3 tokenizers, so n words are n tokens there; for other
// tokenizers the words-to-tokens ratio and the chat template's overhead are
// calibrated against the server (see Calibrate). Token-ID prompts are random
// ids in a range valid for any modern vocabulary: exact by construction.
//
// Every request draws its words from its own PCG stream (seeded by the run
// seed, the scenario and the request's sequence number), so two prompts
// share a prefix only by chance: about one in 2048 per word, so a shared
// 16-token cache block has odds of 2^-176. A replayer that sent the same
// filler to every request would measure the server's prefix cache, not its
// prefill.
package prompt

import (
	_ "embed"
	"math/rand/v2"
	"strings"

	"github.com/llmload/llmload/engine/shared/randdist"
)

//go:embed words.txt
var wordsTxt string

// NumWords is the size of the word list: a power of two, so that a word
// index is a plain bit field of the random stream.
const NumWords = 2048

const (
	wordBits = 11 // log2(NumWords)
	slotSize = 16 // a table slot: leading space, the word, zero padding
)

// Token-ID range for token-ID prompts. Low ids are avoided because some
// vocabularies put control tokens there (Mistral's tekken reserves 0..999,
// SentencePiece puts byte fallbacks at 3..258); every vocabulary in use
// today has more than 30000 entries, so the range is valid everywhere.
const (
	MinTokenID = 1000
	MaxTokenID = 30000
)

var (
	words    [NumWords]string
	wordTab  [NumWords][slotSize]byte // " word" padded, for fixed-size copies
	wordLens [NumWords]uint8          // length of " word"
	maxLen   int                      // the longest " word"
)

func init() {
	list := strings.Fields(wordsTxt)
	if len(list) != NumWords {
		panic("prompt: words.txt must hold exactly NumWords words")
	}
	for i, w := range list {
		if len(w)+1 > slotSize {
			panic("prompt: word too long for its table slot: " + w)
		}
		words[i] = w
		wordTab[i][0] = ' '
		copy(wordTab[i][1:], w)
		wordLens[i] = uint8(len(w) + 1)
		maxLen = max(maxLen, len(w)+1)
	}
}

// Words returns a copy of the word list.
func Words() []string {
	out := make([]string, NumWords)
	copy(out, words[:])
	return out
}

// Source is a per-request random stream of words and token ids. The zero
// value is usable but every zero Source yields the same stream: call Seed.
// A Source is not safe for concurrent use; reseeding it is free, so one
// Source serves any number of requests in turn.
type Source struct {
	pcg   rand.PCG
	bits  uint64 // unused random bits left from the last draw
	nbits uint
}

// NewSource returns a Source seeded with (seed, stream).
func NewSource(seed, stream uint64) *Source {
	s := &Source{}
	s.Seed(seed, stream)
	return s
}

// Seed restarts the stream. Distinct (seed, stream) pairs give unrelated
// streams; the inputs are mixed first because PCG states that differ only
// in low bits (consecutive sequence numbers) would otherwise start close.
func (s *Source) Seed(seed, stream uint64) {
	s.pcg.Seed(randdist.Mix64(seed), randdist.Mix64(stream^0x9e3779b97f4a7c15))
	s.bits, s.nbits = 0, 0
}

// StreamID folds a scenario name and a sequence number into a stream id for
// Seed, so that scenarios running side by side with the same seed do not
// send the same prompts.
func StreamID(scenario string, seq int64) uint64 {
	return randdist.Mix64(hashString(scenario) ^ uint64(seq))
}

// blockDomain separates the streams of prompt blocks from those of
// requests, so a hash id never selects the stream of a sequence number.
const blockDomain = 0x626c6f636b696473 // "blockids"

// BlockStreamID is the stream of the prompt block that a trace's hash id
// stands for (Mooncake's hash_ids): every request of the scenario that
// names the id gets the same words from it, so the server's prefix cache
// sees the reuse the trace recorded. Scenarios get separate blocks, as
// hash ids are only meaningful within one trace.
func BlockStreamID(scenario string, id int) uint64 {
	return randdist.Mix64(hashString(scenario) ^ blockDomain ^ randdist.Mix64(uint64(id)))
}

// hashString is FNV-1a, 64 bits.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func (s *Source) word() int {
	if s.nbits < wordBits {
		s.bits, s.nbits = s.pcg.Uint64(), 64
	}
	i := int(s.bits & (NumWords - 1))
	s.bits >>= wordBits
	s.nbits -= wordBits
	return i
}

// AppendText appends n random words separated by single spaces (no leading
// or trailing space) to dst and returns the extended slice. The text is
// lowercase ASCII letters and spaces only, so it can be placed inside a
// JSON string without escaping. n <= 0 appends nothing.
func (s *Source) AppendText(dst []byte, n int) []byte {
	if n <= 0 {
		return dst
	}
	// Reserve the worst case, then copy whole 16-byte slots and advance by
	// the word's length: a fixed-size copy is two stores, cheaper than a
	// variable-length one. The last copy may spill padding past the end,
	// hence one full slot of headroom.
	l := len(dst)
	need := l + (n-1)*maxLen + slotSize
	if cap(dst) < need {
		grown := make([]byte, l, need+need/4)
		copy(grown, dst)
		dst = grown
	}
	buf := dst[:cap(dst)]
	i := s.word()
	copy(buf[l:l+slotSize], wordTab[i][1:]) // the first word has no leading space
	l += int(wordLens[i]) - 1
	for k := 1; k < n; k++ {
		i = s.word()
		copy(buf[l:l+slotSize], wordTab[i][:])
		l += int(wordLens[i])
	}
	return dst[:l]
}

// AppendTokenIDs appends n random token ids in [MinTokenID, MaxTokenID],
// separated by commas (no brackets), to dst and returns the extended slice.
func (s *Source) AppendTokenIDs(dst []byte, n int) []byte {
	if n <= 0 {
		return dst
	}
	dst = growBy(dst, n*6) // at most 5 digits and a comma each
	buf := dst[:cap(dst)]
	l := len(dst)
	const span = MaxTokenID - MinTokenID + 1
	for k := 0; k < n; k++ {
		if s.nbits < 32 {
			s.bits, s.nbits = s.pcg.Uint64(), 64
		}
		// Lemire's multiply-shift maps 32 random bits onto the span; the
		// bias (span/2^32) is far below anything a server could notice.
		id := MinTokenID + uint32((s.bits&0xffffffff)*span>>32)
		s.bits >>= 32
		s.nbits -= 32
		if k > 0 {
			buf[l] = ','
			l++
		}
		l += putID(buf[l:l+5], id)
	}
	return dst[:l]
}

const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

// putID writes v, which is in [1000, 99999], in decimal at the start of
// b and returns the number of digits. Branch-free: 4- and 5-digit ids are
// interleaved at random, so a branch on the length would mispredict often.
func putID(b []byte, v uint32) int {
	_ = b[4]
	hi, lo := v/100, v%100
	top, mid := hi/100, hi%100
	five := int((uint64(v) + (1 << 32) - 10000) >> 32) // 1 when v >= 10000, else 0
	b[0] = '0' + byte(top)                             // overwritten below when v < 10000
	b[five] = digitPairs[2*mid]
	b[five+1] = digitPairs[2*mid+1]
	b[five+2] = digitPairs[2*lo]
	b[five+3] = digitPairs[2*lo+1]
	return 4 + five
}

func growBy(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	grown := make([]byte, len(dst), len(dst)+n+(len(dst)+n)/4)
	copy(grown, dst)
	return grown
}
