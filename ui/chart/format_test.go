package chart

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// formatCase is one expectation of a number formatter.
type formatCase struct {
	v     float64
	width int
	want  string
}

// checkFormat checks f against cases, and that no result is wider than
// asked.
func checkFormat(t *testing.T, name string, f func(v float64, width int) string, cases []formatCase) {
	t.Helper()
	for _, tc := range cases {
		got := f(tc.v, tc.width)
		if got != tc.want {
			t.Errorf("%s(%v, %d) = %q, want %q", name, tc.v, tc.width, got, tc.want)
		}
		if n := utf8.RuneCountInString(got); n > tc.width {
			t.Errorf("%s(%v, %d) is %d wide", name, tc.v, tc.width, n)
		}
	}
}

func TestCompact(t *testing.T) {
	checkFormat(t, "Compact", Compact, []formatCase{
		{0, 5, "0"},
		{3, 5, "3"},
		{-42, 5, "-42"},
		{9999, 5, "9999"},
		{3.14159, 5, "3.14"},
		{31.4159, 5, "31.4"},
		{314.159, 5, "314"},
		{999.7, 5, "1.00k"}, // rounding carries into the next suffix
		{0.125, 5, "0.125"},
		{12345, 5, "12.3k"},
		{12345, 3, "12k"},
		{123456, 3, "###"}, // "0M" would be a lie
		{999960, 5, "1.00M"},
		{2.5e9, 5, "2.50G"},
		{-1234.5, 5, "-1.2k"},
		{10000, 5, "10.0k"},
		{math.NaN(), 5, "–"},
		{math.Inf(1), 5, "inf"},
		{math.Inf(-1), 3, "-in"},
		{7, 0, ""},
	})
}

func TestBytes(t *testing.T) {
	for v, want := range map[float64]string{512: "512B", 1.5e6: "1.50MB", 12.34e9: "12.3GB"} {
		if got := Bytes(v, 6); got != want {
			t.Errorf("Bytes(%v, 6) = %q, want %q", v, got, want)
		}
	}
	if got := Bytes(math.NaN(), 6); got != Missing {
		t.Errorf("Bytes(NaN) = %q", got)
	}
}

func TestNiceCeil(t *testing.T) {
	for v, want := range map[float64]float64{
		0.7: 0.8, 1: 1, 1.1: 1.5, 2: 2, 2.1: 2.5, 3.5: 4, 7: 8, 9: 10, 61: 80,
		200: 200, 201: 250, 0.03: 0.03, 0.031: 0.04, 0: 1, -5: 1,
	} {
		if got := niceCeil(v); math.Abs(got-want) > 1e-9*want {
			t.Errorf("niceCeil(%v) = %v, want %v", v, got, want)
		}
	}
}

var siValue = map[string]float64{"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}

// FuzzCompact checks the two promises of Compact: the width is never
// exceeded, and what it prints reads back as (about) the value.
func FuzzCompact(f *testing.F) {
	for _, v := range []float64{0, 1, -1, 0.001, 999.5, 999999.9, 1e20, -12345.678} {
		f.Add(v, 5)
	}
	f.Add(123456.0, 3)
	f.Fuzz(func(t *testing.T, v float64, width int) {
		width = width%12 + 1
		if width < 1 {
			width += 12
		}
		s := Compact(v, width)
		if n := utf8.RuneCountInString(s); n > width {
			t.Fatalf("Compact(%v, %d) = %q: %d runes", v, width, s, n)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || strings.Trim(s, "#") == "" || math.Abs(v) >= 1e21 {
			return
		}
		num, unit := s, ""
		if last := s[len(s)-1:]; siValue[last] != 0 && last != "" {
			num, unit = s[:len(s)-1], last
		}
		got, err := strconv.ParseFloat(num, 64)
		if err != nil {
			t.Fatalf("Compact(%v, %d) = %q: not a number: %v", v, width, s, err)
		}
		got *= siValue[unit]
		// Three significant digits at best; with a narrow width fewer, but
		// never off by more than one unit of the last digit printed.
		lastDigit := 1.0
		if i := strings.IndexByte(num, '.'); i >= 0 {
			lastDigit = math.Pow(10, -float64(len(num)-i-1))
		}
		if tol := lastDigit * siValue[unit]; math.Abs(got-v) > tol {
			t.Fatalf("Compact(%v, %d) = %q reads back as %v", v, width, s, got)
		}
	})
}

// Latencies switch from milliseconds to a larger unit where Compact would
// print "30.8k" ("queue 30.8k", axis "40.0k" on a Client delay ms chart).
func TestMillis(t *testing.T) {
	checkFormat(t, "Millis", Millis, []formatCase{
		{0, 5, "0"},
		{850, 5, "850"},
		{0.125, 5, "0.125"},
		{9999, 5, "9999"}, // below ten seconds: as Compact, in ms
		{10000, 5, "10s"},
		{30800, 5, "30.8s"},
		{40000, 6, "40s"}, // an axis label
		{20000, 6, "20s"},
		{59970, 5, "1.00m"}, // 60.0s carries into minutes
		{72000, 5, "1.20m"},
		{750000, 5, "12.5m"},
		{3600000, 5, "1h"},
		{9000000, 5, "2.50h"},
		{30800, 3, "31s"},
		{30800, 2, "##"},
		{4e12, 5, "#####"}, // a millennium of hours does not fit
		{math.NaN(), 5, "–"},
		{-30800, 6, "-30.8s"},
	})
}

// FuzzMillis: never wider than asked, and a suffixed form reads back
// within its last digit (a value of seconds, minutes or hours).
func FuzzMillis(f *testing.F) {
	for _, v := range []float64{0, 9999.9, 10000, 59970, 3599990, 1e13, -30800} {
		f.Add(v, 5)
	}
	f.Fuzz(func(t *testing.T, v float64, width int) {
		width = (width%12+12)%12 + 1
		s := Millis(v, width)
		if n := utf8.RuneCountInString(s); n > width {
			t.Fatalf("Millis(%v, %d) = %q: %d runes", v, width, s, n)
		}
		unit := map[string]float64{"s": 1e3, "m": 6e4, "h": 3.6e6}[s[len(s)-1:]]
		if unit == 0 || strings.HasPrefix(s, "#") {
			return // not suffixed: Compact's form, fuzzed there
		}
		num := s[:len(s)-1]
		got, err := strconv.ParseFloat(num, 64)
		if err != nil {
			t.Fatalf("Millis(%v, %d) = %q: %v", v, width, s, err)
		}
		lastDigit := 1.0
		if i := strings.IndexByte(num, '.'); i >= 0 {
			lastDigit = math.Pow(10, -float64(len(num)-i-1))
		}
		if math.Abs(got*unit-v) > lastDigit*unit {
			t.Fatalf("Millis(%v, %d) = %q reads back as %v ms", v, width, s, got*unit)
		}
	})
}
