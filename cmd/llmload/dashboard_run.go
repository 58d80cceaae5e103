package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/gdamore/tcell/v2"
	"golang.org/x/term"

	"github.com/llmload/llmload/engine/guard/redact"
	"github.com/llmload/llmload/engine/launch"
	"github.com/llmload/llmload/engine/load/runner"
	"github.com/llmload/llmload/engine/results/threshold"
	"github.com/llmload/llmload/ui"
)

// useDashboard: the full-screen dashboard when stdout is a terminal and
// --no-ui is not set; progress lines otherwise (pipes, CI, files).
func useDashboard(f runFlags, stdout io.Writer) bool {
	if f.noUI {
		return false
	}
	file, ok := stdout.(*os.File)
	return ok && term.IsTerminal(int(file.Fd())) && os.Getenv("TERM") != "dumb"
}

// dashboardRun owns the terminal while a run is drawn.
type dashboardRun struct {
	screen tcell.Screen
	d      *ui.Dashboard
	cancel context.CancelFunc
	ended  chan struct{}
}

// dashScenario is what the dashboard's tabs show of a scenario.
type dashScenario struct {
	name       string
	thresholds []threshold.Threshold
	observed   bool // its server's /metrics are scraped
	shared     int  // scenarios of the run against the same server
}

func dashScenarios(runs []*launch.ScenarioRun) []dashScenario {
	ds := make([]dashScenario, len(runs))
	for i, sr := range runs {
		sc := sr.Scenario()
		ds[i] = dashScenario{name: sc.Name, thresholds: sc.Thresholds, observed: sr.Observer() != nil, shared: sr.Shared()}
	}
	return ds
}

// dashboardScenarios names the run's scenarios for the dashboard, each with
// the chart colours of its own thresholds. One scenario needs no tabs.
func dashboardScenarios(runs []dashScenario) (opt ui.Options) {
	if len(runs) == 1 {
		return ui.Options{Thresholds: chartThresholds(runs[0].thresholds)}
	}
	for _, sr := range runs {
		sc := ui.Scenario{Name: sr.name, Thresholds: chartThresholds(sr.thresholds)}
		if sr.observed && sr.shared > 1 {
			// The server's figures are the server's, not the scenario's:
			// its tok/s next to the scenario's own would puzzle.
			sc.Note = fmt.Sprintf("server panels: whole server, shared by %d scenarios", sr.shared)
		}
		opt.Scenarios = append(opt.Scenarios, sc)
	}
	return opt
}

func startDashboard(f runFlags, runs []*launch.ScenarioRun, stop, abort func()) (*dashboardRun, error) {
	screen, err := tcell.NewScreen()
	if err != nil {
		return nil, err
	}
	if err := screen.Init(); err != nil {
		return nil, err
	}
	dr := &dashboardRun{screen: screen, ended: make(chan struct{})}
	refresh := f.logEvery
	if refresh <= 0 {
		refresh = 0 // the dashboard's default
	}
	opt := dashboardScenarios(dashScenarios(runs))
	opt.PlotWindow, opt.Refresh = f.plotWindow, refresh
	opt.PlotRows, opt.PlotHeight, opt.SparkWidth, opt.YWidth = f.plotRows, f.plotHeight, f.sparkWidth, f.yWid
	dr.d = ui.New(screen, opt, ui.Callbacks{
		Stop:  stop,
		Abort: abort,
		Pause: func(paused bool) {
			for _, sr := range runs {
				sr.SetPaused(paused)
			}
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	dr.cancel = cancel
	go func() {
		defer close(dr.ended)
		if err := dr.d.Run(ctx); err != nil && ctx.Err() == nil {
			fmt.Fprintf(os.Stderr, "dashboard: %v\n", err)
		}
	}()
	return dr, nil
}

// progress is the runner progress callback of scenario i of the run: it
// builds the scenario's frames, with the server and GPU series of its
// observer, and publishes them as that scenario's.
func (dr *dashboardRun) progress(f runFlags, i int, sr *launch.ScenarioRun) func(runner.Status) {
	sc := sr.Scenario()
	frames := newFrameBuilder(sc.Name, redact.URL(sc.URL), sc.Model, f.plotWindow)
	frames.observe(sr.Observer())
	return func(s runner.Status) { dr.d.PublishScenario(i, frames.frame(s)) }
}

// finish (no-op on nil: no dashboard) closes the dashboard and gives the terminal back, so the summary
// table prints on a normal screen.
func (dr *dashboardRun) finish() {
	if dr == nil {
		return
	}
	dr.cancel()
	<-dr.ended
	dr.screen.Fini()
}
