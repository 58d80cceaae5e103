package record

import (
	"math"
	"strconv"
	"testing"
)

func TestAppendMs(t *testing.T) {
	for ns, want := range map[float64]string{
		0: "0", 1: "0.000001", 1e6: "1", 1.5e6: "1.5", 1234567: "1.234567", -2500: "-0.0025",
		33333.4: "0.033333", 86400e9: "86400000", math.NaN(): "null", math.Inf(1): "null",
	} {
		if got := string(appendMs(nil, ns)); got != want {
			t.Errorf("appendMs(%v) = %q, want %q", ns, got, want)
		}
	}
}

// The integer formatting reads back as the same float as ns/1e6.
func FuzzAppendMs(f *testing.F) {
	for _, v := range []int64{0, 1, 999999, 1000000, 1234567890, -5, 1 << 50} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, ns int64) {
		if ns > 1<<62 || ns < -(1<<62) {
			return
		}
		s := string(appendMs(nil, float64(ns)))
		got, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("%d -> %q: %v", ns, s, err)
		}
		if want := math.Round(float64(ns)) / 1e6; got != want {
			t.Fatalf("%d -> %q = %v, want %v", ns, s, got, want)
		}
	})
}
