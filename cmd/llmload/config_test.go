package main

import (
	"testing"
	"time"

	"github.com/llmload/llmload/scripting"
)

// TestConfigPrecedence pins the order in which a setting is taken: the
// flag when given, then the scenario, then llmload.toml, then the flag's
// default. Each case gives some of the sources and checks the settings
// that result, in the manner of k6's TestConfigConsolidation.
func TestConfigPrecedence(t *testing.T) {
	secs := func(n int) duration { return duration{time.Duration(n) * time.Second} }
	type want struct {
		url, model, out         string
		concurrency             int
		limit                   int64
		timeout, duration, logE time.Duration
		serverMetrics           string
	}
	cases := []struct {
		name     string
		flags    []string
		scenario scripting.Scenario
		file     fileSettings
		want     want
	}{
		{name: "defaults", want: want{concurrency: 16, timeout: 120 * time.Second, logE: time.Second, serverMetrics: "auto"}},
		{name: "file over default",
			file: fileSettings{URL: "http://file:1", Model: "fm", Out: "fo", Concurrency: 3, Timeout: secs(7), LogEvery: secs(2), ServerMetrics: "off"},
			want: want{url: "http://file:1", model: "fm", out: "fo", concurrency: 3, timeout: 7 * time.Second, logE: 2 * time.Second, serverMetrics: "off"}},
		{name: "scenario over file",
			scenario: scripting.Scenario{URL: "http://sc:1", Model: "sm", Concurrency: 5, Limit: 9, Duration: time.Minute},
			file:     fileSettings{URL: "http://file:1", Model: "fm", Concurrency: 3},
			want:     want{url: "http://sc:1", model: "sm", concurrency: 5, limit: 9, timeout: 120 * time.Second, duration: time.Minute, logE: time.Second, serverMetrics: "auto"}},
		{name: "flag over scenario and file",
			flags:    []string{"--url=http://flag:1", "--model=gm", "--concurrency=7", "--limit=4", "--duration=30s", "--timeout=9", "--out=go", "--server-metrics=http://m:1/metrics"},
			scenario: scripting.Scenario{URL: "http://sc:1", Model: "sm", Concurrency: 5, Limit: 9, Duration: time.Minute},
			file:     fileSettings{URL: "http://file:1", Model: "fm", Concurrency: 3, Timeout: secs(7), Out: "fo", ServerMetrics: "off"},
			want:     want{url: "http://flag:1", model: "gm", out: "go", concurrency: 7, limit: 4, timeout: 9 * time.Second, duration: 30 * time.Second, logE: time.Second, serverMetrics: "http://m:1/metrics"}},
		{name: "a flag given at its default still wins",
			flags:    []string{"--concurrency=16", "--log-every=1s"},
			scenario: scripting.Scenario{Concurrency: 5},
			file:     fileSettings{Concurrency: 3, LogEvery: secs(4)},
			want:     want{concurrency: 16, timeout: 120 * time.Second, logE: time.Second, serverMetrics: "auto"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var f runFlags
			fs := newRunFlagSet(&f)
			if err := fs.Parse(c.flags); err != nil {
				t.Fatal(err)
			}
			sc := c.scenario
			sc.Name = "s"
			got, err := resolve(f, setFlags(fs), c.file, &sc)
			if err != nil {
				t.Fatal(err)
			}
			g := want{url: got.URL, model: got.Model, out: got.Out, concurrency: got.Concurrency, limit: got.Limit,
				timeout: got.Timeout, duration: got.Duration, logE: got.LogEvery, serverMetrics: got.ServerMetrics}
			if g != c.want {
				t.Errorf("got  %+v\nwant %+v", g, c.want)
			}
		})
	}
}
