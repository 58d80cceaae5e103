package scripting

import (
	"errors"
	"fmt"
	"io"

	"github.com/llmload/llmload/engine/load/openai"
	"github.com/llmload/llmload/engine/load/request"
	"github.com/llmload/llmload/engine/load/trace"
)

// DryRun checks a scenario's first request while the script loads, before
// a simulator starts or a results directory is made: it reads the first
// row, calls the request function on it and builds the request, so a typo
// in a field (max_token) or a function that returns nil is reported at
// once, with its file and line. The row and the spec are kept and handed
// to the run, so the source is still read, and the function still called,
// exactly once per request. Scenarios without a request function, session
// scenarios and an empty source are left alone. Call it after Load and
// before the run, from the goroutine that loaded the script.
func (s *Script) DryRun(sc *Scenario) error {
	lm, ok := sc.Mapper.(*luaMapper)
	if !ok || sc.Source == nil {
		return nil
	}
	row, err := sc.Source.Next()
	switch {
	case errors.Is(err, io.EOF):
		sc.Source = &primedSource{Source: sc.Source, Reports: trace.Reports{Inner: sc.Source}, err: err, has: true}
		return nil
	case err != nil:
		return fmt.Errorf("scenario %s: reading the first row: %w", sc.Name, err)
	}
	sc.Source = &primedSource{Source: sc.Source, Reports: trace.Reports{Inner: sc.Source}, row: row, has: true}
	spec, err := lm.Map(row)
	if err != nil {
		return fmt.Errorf("scenario %s: first row (line %d): %w", sc.Name, row.Line, err)
	}
	b, err := openai.NewBuilder(openai.BuilderConfig{BaseURL: "http://127.0.0.1:1"})
	if err != nil {
		return err
	}
	check := spec
	if err := b.Build(0, &check, &request.Plan{Scenario: sc.Name}); err != nil {
		return fmt.Errorf("scenario %s: the request for the first row (line %d): %w", sc.Name, row.Line, err)
	}
	sc.Mapper = &primedMapper{Mapper: lm, spec: spec, has: true}
	return nil
}

// primedSource yields the row DryRun read, then the rest of the source.
// It passes on the source's skip reports. One goroutine owns it, as any
// Source.
type primedSource struct {
	trace.Source
	trace.Reports
	row trace.Row
	err error // io.EOF when the source had no row
	has bool
}

func (p *primedSource) Next() (trace.Row, error) {
	if p.has {
		p.has = false
		if p.err != nil {
			return trace.Row{}, p.err
		}
		return p.row, nil
	}
	return p.Source.Next()
}

// primedMapper answers the first Map, which is for the row DryRun read,
// with the spec DryRun made from it; later rows go to the request
// function.
type primedMapper struct {
	Mapper
	spec openai.Spec
	has  bool
}

func (m *primedMapper) Map(row trace.Row) (openai.Spec, error) {
	if m.has {
		m.has = false
		return m.spec, nil
	}
	return m.Mapper.Map(row)
}
