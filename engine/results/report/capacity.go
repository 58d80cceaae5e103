package report

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/llmload/llmload/engine/results/rundir"
	"github.com/llmload/llmload/engine/shared/svgplot"
)

// Capacity is a capacity search's outcome, as summary.json's "capacity"
// has it (engine/load/capacity.Result): the answer, its interval and one
// entry per step.
type Capacity struct {
	By          string   `json:"by"`
	Unit        string   `json:"unit"`
	SLOTTFTMS   float64  `json:"slo_ttft_ms,omitempty"`
	SLOTPOTMS   float64  `json:"slo_tpot_ms,omitempty"`
	Goodput     float64  `json:"goodput_target"`
	Answer      float64  `json:"answer"`
	Low         float64  `json:"low"`
	High        *float64 `json:"high"` // nil: no step above the answer failed clearly
	Reason      string   `json:"stop_reason"`
	Steps       []Step   `json:"steps"`
	AnswerRPS   float64  `json:"answer_rps"` // the throughput of the passing step at the answer; 0 when none passed
	MaxStepLvl  float64  `json:"-"`          // the highest level tried: the band's end when High is nil
	parseFailed bool
}

// Step is one step of a capacity search.
type Step struct {
	N         int     `json:"step"`
	Level     float64 `json:"level"`
	Verdict   string  `json:"verdict"` // "pass", "fail", "untrusted", "none" (the run stopped in it)
	Clear     bool    `json:"clear"`
	Ended     string  `json:"ended"`
	Judged    int64   `json:"judged"`
	Goodput   float64 `json:"goodput"`
	RPS       float64 `json:"rps"` // judged requests completed per second
	TTFTP99MS float64 `json:"ttft_p99_ms"`
	TPOTP99MS float64 `json:"tpot_p99_ms"`
}

// capacity reads the run's capacity search; nil for other runs. A section
// that does not decode is reported as a search with no step rather than
// dropped, so the page says so.
func capacity(r *rundir.Run) *Capacity {
	raw, ok := r.Summary["capacity"]
	if !ok || raw == nil {
		return nil
	}
	c := &Capacity{}
	b, err := json.Marshal(raw)
	if err == nil {
		err = json.Unmarshal(b, c)
	}
	if err != nil {
		return &Capacity{Reason: "unreadable capacity section: " + err.Error(), parseFailed: true}
	}
	for _, s := range c.Steps {
		if s.Verdict == "pass" && s.Level == c.Answer {
			c.AnswerRPS = s.RPS
		}
		c.MaxStepLvl = max(c.MaxStepLvl, s.Level)
	}
	return c
}

// verdictSeries are the three kinds of step, each its own marker and
// colour (Okabe-Ito green, vermilion, grey).
var verdictSeries = []struct {
	verdict, name string
	marker        svgplot.Marker
	color         int
}{
	{"pass", "passed", svgplot.Dot, 2},
	{"fail", "failed", svgplot.Cross, 1},
	{"untrusted", "untrusted (llmload lagged)", svgplot.Ring, 9},
}

// capacityCharts draws each capacity search: p99 TTFT and TPOT against
// the throughput each step achieved, and the goodput of each step against
// its level, one point per step marked by its verdict, with the SLO, the
// answer and its interval.
func (d *Data) capacityCharts() chartGroup {
	g := chartGroup{title: "Capacity search: throughput against latency",
		hint: "One point per step (hover for its number and level): passed ●, failed ×, untrusted ○. The answer is the highest level that passed; the shaded band is its interval (the nearest steps whose goodput was clearly on their side of the target)."}
	for ri, r := range d.Runs {
		c := r.Capacity
		if c == nil {
			continue
		}
		id, prefix := fmt.Sprintf("capacity-%d", ri), ""
		if len(d.Runs) > 1 {
			prefix = r.Label + ": "
		}
		unit := c.Unit
		// On the throughput axes only the answer's step: the interval is
		// one of levels, and a step past the knee may achieve less
		// throughput than the answer's.
		var thrMarks []svgplot.Mark
		if c.Answer > 0 && c.AnswerRPS > 0 {
			thrMarks = []svgplot.Mark{{From: c.AnswerRPS, To: c.AnswerRPS,
				Label: fmt.Sprintf("answer (%s %s): %s req/s", svgplot.FormatValue(c.Answer), unit, svgplot.FormatValue(c.AnswerRPS))}}
		}
		for _, m := range []struct {
			name, key string
			slo       float64
			y         func(Step) float64
		}{
			{"TTFT", "ttft", c.SLOTTFTMS, func(s Step) float64 { return s.TTFTP99MS }},
			{"TPOT", "tpot", c.SLOTPOTMS, func(s Step) float64 { return s.TPOTP99MS }},
		} {
			ch := &svgplot.Chart{ID: id + "-" + m.key, Title: prefix + "p99 " + m.name + " by step against throughput",
				XLabel: "throughput of the step (req/s)", YLabel: "p99 " + m.name + " (ms)", YFromZero: true, XFromZero: true,
				Series: c.stepSeries(func(s Step) float64 { return s.RPS }, m.y), Marks: thrMarks}
			if m.slo > 0 {
				ch.Marks = append(ch.Marks, svgplot.Mark{From: m.slo, Horizontal: true, Label: fmt.Sprintf("SLO %s ms", svgplot.FormatValue(m.slo))})
			}
			g.charts = append(g.charts, ch)
		}
		ch := &svgplot.Chart{ID: id + "-goodput", Title: prefix + "Goodput of each step against its level",
			XLabel: "level (" + unit + ")", YLabel: "requests that met the SLO (%)", XFromZero: true,
			Series: c.stepSeries(func(s Step) float64 { return s.Level }, func(s Step) float64 { return 100 * s.Goodput }),
			Marks:  c.answerMarks()}
		if c.Goodput > 0 {
			ch.Marks = append(ch.Marks, svgplot.Mark{From: 100 * c.Goodput, Horizontal: true, Label: fmt.Sprintf("target %s%%", svgplot.FormatValue(100*c.Goodput))})
		}
		if c.parseFailed || len(c.Steps) == 0 {
			ch.Note = c.Reason
		}
		g.charts = append(g.charts, ch)
	}
	return g
}

// stepSeries is one Points series per verdict, each point labelled with
// its step and level.
func (c *Capacity) stepSeries(x, y func(Step) float64) []svgplot.Series {
	var out []svgplot.Series
	for _, v := range verdictSeries {
		s := svgplot.Series{Name: v.name, Kind: svgplot.Points, Marker: v.marker, Color: v.color}
		for _, st := range c.Steps {
			if st.Verdict != v.verdict {
				continue
			}
			s.X, s.Y = append(s.X, x(st)), append(s.Y, y(st))
			s.Labels = append(s.Labels, fmt.Sprintf("step %d at %s %s", st.N, svgplot.FormatValue(st.Level), c.Unit))
		}
		if len(s.X) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// answerMarks are the answer (a line at its level) and its interval (a
// band from Low to High, or to the highest step when no step above the
// answer failed clearly); none when no step passed.
func (c *Capacity) answerMarks() []svgplot.Mark {
	if c.Answer <= 0 {
		return nil
	}
	high, label := 0.0, ""
	if c.High != nil {
		high = *c.High
		label = fmt.Sprintf("interval %s to %s", svgplot.FormatValue(c.Low), svgplot.FormatValue(high))
	} else {
		high = c.MaxStepLvl
		label = fmt.Sprintf("interval from %s (unbounded above)", svgplot.FormatValue(c.Low))
	}
	var marks []svgplot.Mark
	if high > c.Low {
		marks = append(marks, svgplot.Mark{From: c.Low, To: high, Label: label})
	}
	return append(marks, svgplot.Mark{From: c.Answer, To: c.Answer,
		Label: fmt.Sprintf("answer %s %s", svgplot.FormatValue(c.Answer), c.Unit)})
}

// capacityTable writes a run's search: its answer and one row per step.
func capacityTable(b *strings.Builder, c *Capacity) {
	if c == nil {
		return
	}
	high := "unbounded"
	if c.High != nil {
		high = svgplot.FormatValue(*c.High)
	}
	fmt.Fprintf(b, `<h3>Capacity search by %s</h3><p>`, esc(c.By))
	if c.Answer > 0 {
		fmt.Fprintf(b, `Answer: <b>%s %s</b> (interval %s to %s). `, svgplot.FormatValue(c.Answer), esc(c.Unit), svgplot.FormatValue(c.Low), esc(high))
	} else {
		b.WriteString(`No level met the SLO. `)
	}
	fmt.Fprintf(b, `Stopped: %s.</p><table><tr><th>step</th><th>level</th><th>verdict</th><th>ended</th><th>judged</th><th>goodput (%%)</th><th>throughput (req/s)</th><th>p99 TTFT (ms)</th><th>p99 TPOT (ms)</th></tr>`, esc(c.Reason))
	for _, s := range c.Steps {
		cls := map[string]string{"pass": "pass", "fail": "fail", "untrusted": "warn"}[s.Verdict]
		v := s.Verdict
		if !s.Clear && (v == "pass" || v == "fail") {
			v += "?"
		}
		fmt.Fprintf(b, `<tr><td>%d</td><td>%s</td><td class="%s">%s</td><td>%s</td><td>%d</td>%s</tr>`,
			s.N, svgplot.FormatValue(s.Level), cls, esc(v), esc(s.Ended), s.Judged, cells(100*s.Goodput, s.RPS, s.TTFTP99MS, s.TPOTP99MS))
	}
	b.WriteString(`</table>`)
}
