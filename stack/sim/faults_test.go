package sim

import (
	"strings"
	"testing"
	"time"
)

func TestParseFault(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Fault
	}{
		{"http500", Fault{Mode: FaultHTTP500, Fraction: 1}},
		{"http503:2s@0.25", Fault{Mode: FaultHTTP503, Dur: 2 * time.Second, Fraction: 0.25}},
		{"http429", Fault{Mode: FaultHTTP429, Dur: time.Second, Fraction: 1}},
		{"reset:3", Fault{Mode: FaultReset, N: 3, Fraction: 1}},
		{"stall-first", Fault{Mode: FaultStallFirst, Fraction: 1}},
		{"stall-mid:500ms@0.5", Fault{Mode: FaultStallMid, Dur: 500 * time.Millisecond, N: 2, Fraction: 0.5}},
		{"oversized", Fault{Mode: FaultOversized, N: 17 << 20, Fraction: 1}},
		{"tokenize-stall:1s", Fault{Mode: FaultTokenizeStall, Dur: time.Second, Fraction: 1}},
	} {
		got, err := ParseFault(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseFault(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for in, msg := range map[string]string{
		"bogus":          "unknown mode",
		"http500:1s":     "takes no parameter",
		"reset:x":        "whole number",
		"reset:0":        "whole number",
		"stall-mid:-1s":  "duration >= 0",
		"http503@0":      "(0, 1]",
		"http503@1.5":    "(0, 1]",
		"endless@banana": "(0, 1]",
	} {
		_, err := ParseFault(in)
		if err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), "--fault") {
			t.Errorf("ParseFault(%q) = %v; want an error naming --fault and saying %q", in, err, msg)
		}
	}
}

// Whatever ParseFault accepts, its String parses back to the same fault,
// and Validate accepts it.
func FuzzParseFault(f *testing.F) {
	for _, s := range []string{"http500", "http503:2s@0.25", "reset:3", "oversized:100@1", "stall-first:0s", "trickle:1ms@0.001", "a:b@c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ft, err := ParseFault(s)
		if err != nil {
			return
		}
		back, err := ParseFault(ft.String())
		if err != nil || back != ft {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, ft, ft.String(), back, err)
		}
		c := DefaultConfig()
		c.Faults = []Fault{ft}
		if err := c.Validate(); err != nil {
			t.Fatalf("%q parsed but does not validate: %v", s, err)
		}
	})
}

// Each fault takes its fraction of the requests of its kind, spread
// evenly; the first listed wins when two are due; stall faults of an
// endpoint are not generation faults.
func TestFaultsPick(t *testing.T) {
	fs := newFaults([]Fault{
		{Mode: FaultHTTP503, Fraction: 0.25},
		{Mode: FaultReset, N: 1, Fraction: 0.5},
		{Mode: FaultTokenizeStall, Fraction: 1},
	})
	var got []string
	for range 8 {
		if f := fs.pick(true, ""); f != nil {
			got = append(got, string(f.Mode))
		} else {
			got = append(got, "-")
		}
	}
	want := "- reset - http503 - reset - http503"
	if strings.Join(got, " ") != want {
		t.Fatalf("picks %q, want %q", strings.Join(got, " "), want)
	}
	if f := fs.pick(false, FaultTokenizeStall); f == nil || f.Mode != FaultTokenizeStall {
		t.Fatalf("tokenize pick %+v", f)
	}
	if f := fs.pick(false, FaultModelsStall); f != nil {
		t.Fatalf("models pick %+v, want none", f)
	}
	if newFaults(nil).pick(true, "") != nil {
		t.Fatal("no faults picked one")
	}
}
