package scripting

import (
	"testing"
	"time"

	"github.com/llmload/llmload/engine/load/trace"
)

// BenchmarkMap measures the request mapper of scenarios/azure_conv.lua (a
// Lua request function building llm.chat{...}): the planner's cost per
// request. Target: >= 20,000 requests/s on one core.
func BenchmarkMap(b *testing.B) {
	inRoot(b)
	s, err := Load(azureConv, Env{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	sc := s.Scenarios[0]
	rows := make([]trace.Row, 1024)
	for i := range rows {
		rows[i] = trace.Row{At: time.Duration(i) * time.Millisecond, ContextTokens: 100 + i, GeneratedTokens: 1 + i%300, Line: i + 2}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sp, err := sc.Mapper.Map(rows[i%len(rows)])
		if err != nil || sp.PromptTokens != rows[i%len(rows)].ContextTokens {
			b.Fatalf("Map: %+v, %v", sp, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
}
