package chart

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// NumWidth is the width of the numbers Compact prints for the value
// column: five characters hold every value from -999P to 999P.
const NumWidth = 5

// Missing is what Compact prints for a value that does not exist (NaN).
const Missing = "–"

var suffixes = []string{"", "k", "M", "G", "T", "P", "E"}

// Compact formats v in at most width characters (runes) so that a column
// of numbers never shifts what follows it: integers below 10000 exactly,
// other values with as many significant digits as fit (at most three) and
// an SI suffix (k, M, G, ...) above 1000. No milli/micro prefixes: a value
// of 0.004 prints as 0.004 or 0, never 4m, which would read as minutes or
// metres next to "ms" titles. When even the shortest form does not fit,
// it returns width '#' characters, as spreadsheets do.
func Compact(v float64, width int) string {
	if width <= 0 {
		return ""
	}
	switch {
	case math.IsNaN(v):
		return fit(Missing, width)
	case math.IsInf(v, 1):
		return fit("inf", width)
	case math.IsInf(v, -1):
		return fit("-inf", width)
	}
	if v == math.Trunc(v) && math.Abs(v) < 10000 {
		if s := strconv.FormatFloat(v, 'f', 0, 64); len(s) <= width {
			return s
		}
	}
	a := math.Abs(v)
	scale := 0
	for scale < len(suffixes)-1 && a >= 1000 {
		a /= 1000
		scale++
	}
	sign := ""
	if v < 0 {
		sign = "-"
	}
	// Rounding can carry a value into the next suffix (999.96k prints as
	// 1000k): such a form is skipped, so the next scale gives 1.00M.
	for dec := decimals(a, scale); dec >= 0; dec-- {
		s := strconv.FormatFloat(a, 'f', dec, 64)
		if r, _ := strconv.ParseFloat(s, 64); r >= 1000 && scale < len(suffixes)-1 {
			a /= 1000
			scale++
			dec = decimals(a, scale) + 1 // the loop's dec-- starts over
			continue
		}
		s = sign + s + suffixes[scale]
		if utf8.RuneCountInString(s) <= width {
			return s
		}
	}
	return strings.Repeat("#", width)
}

// decimals is the most digits after the point worth showing: three
// significant digits, and a fourth place only below 1 so that rates like
// 0.125/s stay readable.
func decimals(a float64, scale int) int {
	switch {
	case scale == 0 && a < 1:
		return 3
	case a < 10:
		return 2
	case a < 100:
		return 1
	}
	return 0
}

// Bytes formats a byte count or rate as Compact does with a "B" suffix,
// in at most width characters (12.3MB, 512B).
func Bytes(v float64, width int) string {
	if width <= 1 || math.IsNaN(v) {
		return Compact(v, width)
	}
	return Compact(v, width-1) + "B"
}

// Millis formats a duration given in milliseconds in at most width
// characters: below ten seconds as Compact does (850, 2400, 9999, 0.125),
// above in the unit that keeps it short, where Compact would print 30.8k:
// seconds up to a minute (30.8s, 40s), then minutes (1.20m, 12.5m), then
// hours (2.50h). The suffix says the unit, so a column of them under an
// "ms" title stays unambiguous.
func Millis(v float64, width int) string {
	a := math.Abs(v)
	if width < 2 || math.IsNaN(v) || math.IsInf(v, 0) || a < 10000 {
		return Compact(v, width)
	}
	units := [...]struct {
		ms   float64
		unit string
		next float64 // this many make the next unit
	}{{1000, "s", 60}, {60000, "m", 60}, {3600000, "h", math.Inf(1)}}
	for _, u := range units {
		s := Compact(v/u.ms, width-1)
		r, err := strconv.ParseFloat(s, 64)
		if err != nil { // too narrow, or thousands of hours (1.20k)
			return strings.Repeat("#", width)
		}
		// Rounding can carry into the next unit: 59.97s prints as 60.0s,
		// which is 1.00m.
		if math.Abs(r) < u.next {
			return s + u.unit
		}
	}
	return strings.Repeat("#", width) // not reached: hours have no next unit
}

// fit cuts s to width runes.
func fit(s string, width int) string {
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	return string([]rune(s)[:width])
}

// niceSteps are the mantissas of round axis maxima: fine enough that the
// plot uses most of its height (61 scales to 80, not 100).
var niceSteps = []float64{1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10}

// niceCeil returns the smallest number of the form m x 10^k, m in
// niceSteps, not below v (v > 0), so axis labels are round numbers.
func niceCeil(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range niceSteps {
		// The tolerance absorbs the error of Pow/Log10 so that v = 200
		// maps to 200, not 250.
		if m*p >= v*(1-1e-12) {
			return m * p
		}
	}
	return 10 * p
}
