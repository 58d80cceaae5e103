package scripting

import (
	"errors"
	"io"
	"path/filepath"
	"testing"

	"github.com/llmload/llmload/engine/openai"
	"github.com/llmload/llmload/engine/request"
)

// TestScenarioFiles loads every scenario under scenarios/ with its
// defaults and turns its first rows into request bodies, as the planner
// would: sources, request functions and the builder together. (The CLI's
// scenario test also runs each one against the simulator.)
func TestScenarioFiles(t *testing.T) {
	inRoot(t)
	files, err := filepath.Glob("scenarios/*.lua")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	b, err := openai.NewBuilder(openai.BuilderConfig{BaseURL: "http://127.0.0.1:8000", Model: "m", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			if _, err := Load(file, Env{Seed: 1, Help: true}); err != nil {
				t.Fatalf("loading for --help: %v", err)
			}
			s := mustLoad(t, file, Env{Seed: 1})
			for _, sc := range s.Scenarios {
				hashIDs := 0
				for i := range 8 {
					row, err := sc.Source.Next()
					if errors.Is(err, io.EOF) {
						if i == 0 {
							t.Fatalf("scenario %s: the source is empty", sc.Name)
						}
						break
					}
					if err != nil {
						t.Fatalf("scenario %s: row %d: %v", sc.Name, i, err)
					}
					sp, err := sc.Mapper.Map(row)
					if err != nil {
						t.Fatalf("scenario %s: %v", sc.Name, err)
					}
					var p request.Plan
					p.Scenario = sc.Name
					if err := b.Build(int64(i), &sp, &p); err != nil {
						t.Fatalf("scenario %s: row %+v: building %+v: %v", sc.Name, row, sp, err)
					}
					if len(row.HashIDs) > 0 && len(sp.HashIDs) == len(row.HashIDs) {
						hashIDs++
					}
				}
				// The Mooncake example exists to replay prefix reuse: every
				// row's hash ids must reach its request.
				if filepath.Base(file) == "mooncake_prefix.lua" && hashIDs != 8 {
					t.Errorf("scenario %s: %d of 8 requests carry their row's hash ids", sc.Name, hashIDs)
				}
			}
		})
	}
}
