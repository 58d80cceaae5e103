package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/gdamore/tcell/v2"
	"golang.org/x/term"

	"github.com/llmload/llmload/ui"
	"github.com/llmload/llmload/ui/chart"
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

func startDashboard(f runFlags, ths map[string]chart.Threshold, stop, abort func(), pause func(paused bool)) (*dashboardRun, error) {
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
	dr.d = ui.New(screen, ui.Options{
		PlotWindow: f.plotWindow, Refresh: refresh,
		Thresholds: ths,
		PlotRows:   f.plotRows, PlotHeight: f.plotHeight, SparkWidth: f.sparkWidth, YWidth: f.yWid,
	}, ui.Callbacks{
		Stop:  stop,
		Abort: abort,
		Pause: pause,
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

// finish closes the dashboard and gives the terminal back, so the summary
// table prints on a normal screen.
func (dr *dashboardRun) finish() {
	dr.cancel()
	<-dr.ended
	dr.screen.Fini()
}
