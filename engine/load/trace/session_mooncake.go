package trace

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"time"
)

// Rebuilding conversations from a Mooncake trace. The trace has no
// session ids, but a conversation's turn k+1 resends turn k's prompt (and
// its answer) before the new question, so its hash ids start with turn k's
// blocks. The rule, with the reasons for each part, is in
// docs/traces.md#conversations-in-a-mooncake-trace.

const (
	// DefaultMinSharedBlocks is how many full blocks a row must share with
	// an earlier one to continue it, unless MooncakeSessionOptions says
	// otherwise. One is not enough: in conversation_trace.jsonl every row
	// starts with the same block (a system prompt), so one shared block
	// would chain every row to the one before.
	DefaultMinSharedBlocks = 2
	// DefaultMaxSessionRows bounds the rows MooncakeSessions holds in
	// memory (about 100 bytes plus 8 per hash id each).
	DefaultMaxSessionRows = 1_000_000
)

// MooncakeSessionOptions tune MooncakeSessions.
type MooncakeSessionOptions struct {
	// Options.SkipBad counts and skips malformed rows, as for OpenMooncake.
	Options
	// BlockSize is the tokens per hash id the trace was made with
	// (0 = MooncakeBlockSize). It decides which blocks of a row are full,
	// and is copied to Turn.BlockSize as given.
	BlockSize int
	// MinSharedBlocks is the fewest full blocks a row must share with an
	// earlier one to continue it; 0 means DefaultMinSharedBlocks.
	MinSharedBlocks int
	// OutputTokenTime is taken off a think time for each output token of
	// the previous turn (a think time never goes below 0). The trace only
	// has arrivals, so the gap between two turns includes the earlier
	// answer's generation; this estimates it (e.g. the server's time per
	// output token). 0 keeps the whole gap.
	OutputTokenTime time.Duration
	// MaxRows refuses traces of more rows (the whole trace is held in
	// memory); 0 means DefaultMaxSessionRows.
	MaxRows int
}

// MooncakeSessions reads a Mooncake trace whole and rebuilds its
// conversations: a row whose hash ids extend all the full blocks of an
// earlier row (at least MinSharedBlocks of them) is that row's next turn.
// The think time of a turn is its arrival gap to the previous turn. Rows
// must be in arrival order. Rows that continue no conversation and are
// continued by none are one-turn sessions. The file is read and closed
// here; errors name file:line.
func MooncakeSessions(path string, opt MooncakeSessionOptions) (SessionSource, error) {
	if opt.MinSharedBlocks <= 0 {
		opt.MinSharedBlocks = DefaultMinSharedBlocks
	}
	if opt.MaxRows <= 0 {
		opt.MaxRows = DefaultMaxSessionRows
	}
	r, err := OpenMooncake(path, MooncakeOptions{BlockSize: opt.BlockSize}, opt.Options)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	rows, err := readMooncakeRows(r, path, opt.MaxRows)
	if err != nil {
		return nil, err
	}
	m := &mooncakeSessions{rows: rows, opt: opt, skipped: r.Skipped(), reasons: r.SkipReasons()}
	m.link()
	return m, nil
}

// readMooncakeRows reads the whole trace, checking the bound and the
// arrival order the rule relies on ("earlier" is earlier in the file).
func readMooncakeRows(r *JSONLReader, path string, maxRows int) ([]Row, error) {
	var rows []Row
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, err
		}
		if len(rows) == maxRows {
			return nil, fmt.Errorf("%s:%d: Mooncake trace has more than %d rows; sessions are rebuilt from the whole trace in memory: cut the file (head -n %d) or raise MaxRows",
				path, row.Line, maxRows, maxRows)
		}
		if n := len(rows); n > 0 && row.At < rows[n-1].At {
			return nil, fmt.Errorf("%s:%d: timestamp %d ms is before the previous row's %d ms (line %d); sessions are rebuilt from rows in arrival order: sort the file by timestamp",
				path, row.Line, row.At.Milliseconds(), rows[n-1].At.Milliseconds(), rows[n-1].Line)
		}
		rows = append(rows, row)
	}
}

// mooncakeSessions yields the rebuilt sessions from the rows in memory.
type mooncakeSessions struct {
	rows []Row
	opt  MooncakeSessionOptions
	// next[i] is 1 + the index of the row that continues row i's
	// session; 0 means none.
	next []int32
	// continues[j] marks rows that are a later turn, not a session start.
	continues []bool
	cursor    int // the next row to look at for a session start
	closed    bool

	// What link found, for tests and docs: rows that extend an earlier
	// row, and those of them that start a session of their own because
	// their earlier row was already continued (branches).
	extending, branches int

	skipped int64
	reasons []string
}

// link finds each row's earlier turn. Among the earlier rows whose full
// blocks (all of them) are a prefix of the row's hash ids, the one with the
// most full blocks wins, and among equals the most recent. The row must
// have more blocks than that prefix (else it is not an extension). A row
// continued by several later rows continues its session with the first
// of them; each later one starts a session of its own (a branch), so no
// request is lost or sent twice.
func (m *mooncakeSessions) link() {
	n := len(m.rows)
	m.next = make([]int32, n)
	m.continues = make([]bool, n)
	bs := m.opt.BlockSize
	if bs <= 0 {
		bs = MooncakeBlockSize
	}
	// byPrefix maps the hash of a row's full-block prefix to the rows with
	// a prefix of that hash, oldest first; candidates are compared id by id,
	// so a hash collision costs a comparison, never a wrong match.
	byPrefix := make(map[uint64][]int32, n)
	var hashes []uint64 // hashes[L] is the hash of the first L ids
	for j := range m.rows {
		ids := m.rows[j].HashIDs
		hashes = prefixHashes(hashes[:0], ids)
		parent := -1
		for l := len(ids) - 1; l >= m.opt.MinSharedBlocks && parent < 0; l-- {
			cands := byPrefix[hashes[l]]
			for c := len(cands) - 1; c >= 0; c-- {
				if i := int(cands[c]); slices.Equal(m.rows[i].HashIDs[:l], ids[:l]) {
					parent = i
					break
				}
			}
		}
		if parent >= 0 {
			m.extending++
			if m.next[parent] == 0 {
				m.next[parent] = int32(j + 1)
				m.continues[j] = true
			} else {
				m.branches++
			}
		}
		if full := min(m.rows[j].ContextTokens/bs, len(ids)); full >= m.opt.MinSharedBlocks {
			byPrefix[hashes[full]] = append(byPrefix[hashes[full]], int32(j))
		}
	}
}

// prefixHashes appends to dst the hashes of the first 0..len(ids) ids.
func prefixHashes(dst []uint64, ids []int) []uint64 {
	h := uint64(0)
	dst = append(dst, h)
	for _, id := range ids {
		h = (h ^ uint64(id)) * 0x9E3779B97F4A7C15 // Fibonacci hashing; the 64-bit
		h ^= h >> 29                              // golden-ratio multiplier mixes ids well
		dst = append(dst, h)
	}
	return dst
}

// NextSession returns the session of the next row that starts one.
func (m *mooncakeSessions) NextSession() (Session, error) {
	if m.closed {
		return Session{}, fmt.Errorf("Mooncake sessions: NextSession after Close: %w", os.ErrClosed)
	}
	for m.cursor < len(m.rows) && m.continues[m.cursor] {
		m.cursor++
	}
	if m.cursor == len(m.rows) {
		return Session{}, io.EOF
	}
	first := m.cursor
	m.cursor++
	s := Session{ID: strconv.Itoa(m.rows[first].Line), Start: m.rows[first].At}
	for i, prev := first, -1; ; i, prev = int(m.next[i])-1, i {
		row := &m.rows[i]
		t := Turn{InputTokens: row.ContextTokens, OutputTokens: row.GeneratedTokens,
			HashIDs: row.HashIDs, BlockSize: row.BlockSize, Line: row.Line}
		if prev >= 0 {
			t.Think = thinkTime(row.At-m.rows[prev].At, m.rows[prev].GeneratedTokens, m.opt.OutputTokenTime)
		}
		s.Turns = append(s.Turns, t)
		if m.next[i] == 0 {
			return s, nil
		}
	}
}

// thinkTime is an arrival gap less the generation of the earlier answer
// (tokens at perToken each), at least 0.
func thinkTime(gap time.Duration, tokens int, perToken time.Duration) time.Duration {
	if perToken <= 0 {
		return gap
	}
	if time.Duration(tokens) > gap/perToken { // and tokens·perToken cannot overflow below
		return 0
	}
	return gap - time.Duration(tokens)*perToken
}

// Close releases the rows; NextSession after Close fails.
func (m *mooncakeSessions) Close() error {
	m.closed = true
	m.rows, m.next, m.continues = nil, nil, nil
	return nil
}

// Skipped returns the malformed rows skipped under Options.SkipBad.
func (m *mooncakeSessions) Skipped() int64 { return m.skipped }

// SkipReasons returns the reasons of the first skipped rows.
func (m *mooncakeSessions) SkipReasons() []string { return append([]string(nil), m.reasons...) }
