package trace

import (
	"math"
	"strconv"
	"time"
)

// Numeric fields of the CSV and JSON readers, parsed in place: no strings,
// so a row costs no allocation.

// Problems of a numeric timestamp, as fieldProblem.what.
const (
	whatNotTime   = "is not a time: want a number of seconds (or of the time unit), or a date like 2023-11-16 18:17:03.98"
	whatNegTime   = "is negative; a timestamp must be >= 0"
	whatHugeTime  = "is too large for a timestamp (over 292 years in nanoseconds)"
	whatNotInt    = "is not an integer"
	whatEmptyTime = "is empty; want a timestamp"
)

// parseDuration parses a non-negative decimal number of units ("12",
// "1.25", "3e2") into a duration. Plain decimals are converted exactly
// (digits beyond a nanosecond are dropped); numbers with an exponent go
// through float64. unit must be a power of ten nanoseconds.
func parseDuration(b []byte, unit time.Duration) (time.Duration, string) {
	if len(b) == 0 {
		return 0, whatEmptyTime
	}
	i := 0
	if b[0] == '-' || b[0] == '+' {
		i++
	}
	intStart := i
	var whole int64
	overflow := false
	for i < len(b) && digit(b[i]) {
		if whole > (math.MaxInt64-9)/10 {
			overflow = true
		} else {
			whole = whole*10 + int64(b[i]-'0')
		}
		i++
	}
	intDigits := i - intStart
	var frac int64
	fracDigits := 0
	if i < len(b) && b[i] == '.' {
		i++
		scale := int64(unit)
		for i < len(b) && digit(b[i]) {
			if scale > 1 {
				scale /= 10
				frac += int64(b[i]-'0') * scale
			}
			i++
			fracDigits++
		}
	}
	if intDigits+fracDigits == 0 {
		return 0, whatNotTime
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		return parseDurationFloat(b, unit)
	}
	if i != len(b) {
		return 0, whatNotTime
	}
	if b[0] == '-' && (whole != 0 || frac != 0) {
		return 0, whatNegTime
	}
	if overflow || whole > math.MaxInt64/int64(unit) {
		return 0, whatHugeTime
	}
	d := whole * int64(unit)
	if d > math.MaxInt64-frac {
		return 0, whatHugeTime
	}
	return time.Duration(d + frac), ""
}

// parseDurationFloat is parseDuration's path for numbers with an exponent.
func parseDurationFloat(b []byte, unit time.Duration) (time.Duration, string) {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil && !isRangeErr(err) {
		return 0, whatNotTime
	}
	ns := f * float64(unit)
	switch {
	case math.IsNaN(ns):
		return 0, whatNotTime
	case ns < 0 && math.Round(ns) != 0:
		return 0, whatNegTime
	case ns >= math.MaxInt64:
		return 0, whatHugeTime
	}
	return time.Duration(math.Max(0, math.Round(ns))), ""
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// parseTime reads a timestamp field: a date as the Azure traces write it
// (2023-11-16 18:17:03.98, with an optional zone; the instant since the
// Unix epoch) or a number of units.
func parseTime(b []byte, unit time.Duration) (time.Duration, string) {
	if len(b) >= 19 && b[4] == '-' {
		d, p := parseTimestamp(b)
		return d, string(p)
	}
	return parseDuration(b, unit)
}

// parseCount reads a token count: a non-negative decimal integer.
func parseCount(b []byte) (int, string) {
	n, p := parseTokens(b, 0)
	return n, p.what
}
