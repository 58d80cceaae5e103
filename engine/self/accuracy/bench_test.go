package accuracy

import (
	"context"
	"os"
	"testing"
	"time"
)

// BenchmarkCalibrate runs calibration steps against a simulator in its own
// process and reports the client's error and cost as benchmark metrics.
// Each step runs for LLMLOAD_CALIBRATE_LENGTH (default 5s) after its
// warm-up, so use -benchtime 1x:
//
//	go test ./engine/self/accuracy -run '^$' -bench Calibrate -benchtime 1x
//	go test ./engine/self/accuracy -run '^$' -bench 'Calibrate/streams=1000$' -benchtime 1x -cpuprofile cpu.out
//
// -cpuprofile then profiles the client alone.
func BenchmarkCalibrate(b *testing.B) {
	length := 5 * time.Second
	if v := os.Getenv("LLMLOAD_CALIBRATE_LENGTH"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("LLMLOAD_CALIBRATE_LENGTH=%q: %v", v, err)
		}
		length = d
	}
	for _, s := range DefaultSteps(false) {
		s.Length = length
		b.Run(s.Name(), func(b *testing.B) {
			var last *StepResult
			for range b.N {
				rep, err := Run(context.Background(), Options{Steps: []Step{s}, SimCommand: testSimCommand})
				if err != nil {
					b.Fatal(err)
				}
				last = rep.Steps[0]
			}
			b.ReportMetric(last.TTFTError.Mean, "ttft-err-ms")
			b.ReportMetric(last.TTFTError.P99, "ttft-err-p99-ms")
			b.ReportMetric(last.ITLError.MeanAbs, "itl-err-ms")
			b.ReportMetric(last.SendLag.P99, "send-lag-p99-ms")
			b.ReportMetric(last.RateError*100, "rate-err-%")
			b.ReportMetric(last.ClientCPUPerMTokens, "cpu-s/1Mtok")
			b.ReportMetric(float64(last.ClientPeakRSS)/(1<<20), "rss-MB")
			b.ReportMetric(last.Sim.OverrunFraction*100, "sim-late-%")
			b.ReportMetric(last.OtherCores, "other-cpus")
			if !last.Trusted {
				b.Logf("%s untrusted: %v", s.Name(), last.Problems)
			}
		})
	}
}
