package record

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/llmload/llmload/engine/load/request"
)

// Session results carry their session, user and turn into requests.jsonl,
// and summary.json's by_turn holds each turn's completed requests, the
// turns past MaxTurnBuckets in the last bucket; failed requests count in
// no turn.
func TestByTurn(t *testing.T) {
	dir := t.TempDir()
	r := newRecorder(t, Config{Name: "chat", OutDir: dir, SampleInterval: time.Second})
	ttfts := map[int][]time.Duration{}
	seq := int64(0)
	add := func(turn int, ttft time.Duration, failed bool) {
		res := &request.Result{
			Seq: seq, Scenario: "chat", Session: request.SessionRef{ID: "chat-1", User: 1, Turn: turn},
			Sent: 10 * us, FirstToken: 10*us + ttft, LastByte: 10*us + ttft + 100*us, Status: 200, CompletionTokens: 1,
		}
		if failed {
			res.Error, res.FirstToken = request.ErrHTTPStatus, 0
		} else {
			b := min(turn, MaxTurnBuckets)
			ttfts[b] = append(ttfts[b], ttft)
		}
		seq++
		r.Record(res)
	}
	for turn := 1; turn <= MaxTurnBuckets+3; turn++ {
		add(turn, time.Duration(1000-turn)*us, false)
	}
	add(1, 200*us, false)
	add(2, 100*us, true)
	sum, err := r.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.ByTurn) != MaxTurnBuckets {
		t.Fatalf("%d turn buckets, want %d", len(sum.ByTurn), MaxTurnBuckets)
	}
	for _, ts := range sum.ByTurn {
		want := ttfts[ts.Turn]
		if ts.N != int64(len(want)) {
			t.Errorf("turn %d: %d completed, want %d", ts.Turn, ts.N, len(want))
		}
		if got := time.Duration(ts.TTFT.P50 * 1e6); ts.Turn == 1 && got != 200*us {
			t.Errorf("turn 1 p50 TTFT %v, want 200µs", got)
		}
	}
	if last := sum.ByTurn[MaxTurnBuckets-1]; last.Label != "32+" || last.N != 4 {
		t.Errorf("last bucket %+v, want 32+ with 4", last)
	}
	b, err := json.Marshal(sum)
	if err != nil {
		t.Fatal(err)
	}
	var js map[string]any
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatal(err)
	}
	if _, ok := js["by_turn"].([]any); !ok {
		t.Fatalf("summary.json has no by_turn list")
	}

	f, err := os.Open(filepath.Join(dir, "requests.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var line struct {
			Session *string `json:"session_id"`
			User    int     `json:"user_id"`
			Turn    int     `json:"turn"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		if line.Session == nil || *line.Session != "chat-1" || line.User != 1 || line.Turn < 1 {
			t.Fatalf("line %d: %s", n+1, sc.Text())
		}
		n++
	}
	if n != int(seq) {
		t.Fatalf("%d lines, want %d", n, seq)
	}
}
