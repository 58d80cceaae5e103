//go:build !linux

package accuracy

import (
	"errors"
	"time"
)

// Outside Linux there is no /proc: resource figures are reported as
// unknown and the verdicts that need them are skipped.

var errNoProc = errors.New("not measured: needs Linux /proc")

func procCPU(int) (time.Duration, error)       { return 0, errNoProc }
func procMem(int) (rss, peak int64, err error) { return 0, 0, errNoProc }
func resetPeak(int) error                      { return errNoProc }
func readBox() (boxTimes, error)               { return boxTimes{}, errNoProc }
func loadAvg() (float64, error)                { return 0, errNoProc }
func cpuModel() string                         { return "" }
func kernelRelease() string                    { return "" }

type boxTimes struct {
	all, pressure time.Duration
	psiKnown      bool
}
