package trace

import "time"

// Timestamps are parsed by hand because time.Parse costs more than the rest
// of a row together (it allocates on error and handles layouts we never
// see), and a week-long Azure trace has 27 million of them.
//
// Accepted: YYYY-MM-DD[ T]HH:MM:SS[.fraction][zone], where the fraction has
// one or more digits (beyond nanoseconds they are truncated) and the zone is
// absent (UTC), Z, ±hh, ±hhmm or ±hh:mm.

const (
	minYear = 1678 // time.Duration since 1970 spans 1677-09-21 .. 2262-04-11
	maxYear = 2261
)

// tsProblem names what is wrong with a timestamp; "" means nothing.
type tsProblem string

const (
	tsShape  tsProblem = "is not a timestamp like 2023-11-16 18:17:03.9799600 or 2024-05-12 00:00:00.001163+00:00"
	tsYear   tsProblem = "has a year outside 1678-2261"
	tsMonth  tsProblem = "has a month outside 01-12"
	tsDay    tsProblem = "has a day that its month does not have"
	tsHour   tsProblem = "has an hour outside 00-23"
	tsMinute tsProblem = "has a minute outside 00-59"
	tsSecond tsProblem = "has a second outside 00-59"
	tsZone   tsProblem = "has a zone offset that is not Z, ±hh, ±hhmm or ±hh:mm with hh <= 23 and mm <= 59"
)

// digit reports whether c is an ASCII digit.
func digit(c byte) bool { return c-'0' < 10 }

// num2 parses two ASCII digits at b[i:i+2]; ok is false if either is not one.
func num2(b []byte, i int) (int, bool) {
	c0, c1 := b[i]-'0', b[i+1]-'0'
	return int(c0)*10 + int(c1), c0 < 10 && c1 < 10
}

// parseTimestamp returns the instant b denotes as an offset from the Unix
// epoch.
func parseTimestamp(b []byte) (time.Duration, tsProblem) {
	if len(b) < 19 || b[4] != '-' || b[7] != '-' || (b[10] != ' ' && b[10] != 'T') ||
		b[13] != ':' || b[16] != ':' {
		return 0, tsShape
	}
	yh, ok1 := num2(b, 0)
	yl, ok2 := num2(b, 2)
	mo, ok3 := num2(b, 5)
	d, ok4 := num2(b, 8)
	h, ok5 := num2(b, 11)
	mi, ok6 := num2(b, 14)
	s, ok7 := num2(b, 17)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) {
		return 0, tsShape
	}
	y := yh*100 + yl

	i := 19
	var frac int64
	if i < len(b) && b[i] == '.' {
		i++
		start := i
		scale := int64(time.Second)
		for i < len(b) && digit(b[i]) {
			if scale > 1 {
				scale /= 10
				frac += int64(b[i]-'0') * scale
			}
			i++
		}
		if i == start {
			return 0, tsShape
		}
	}

	off := 0 // seconds east of UTC
	if i < len(b) {
		switch b[i] {
		case 'Z':
			i++
		case '+', '-':
			sign := 1
			if b[i] == '-' {
				sign = -1
			}
			i++
			if len(b)-i < 2 {
				return 0, tsShape
			}
			oh, ok := num2(b, i)
			if !ok {
				return 0, tsShape
			}
			i += 2
			om := 0
			if i < len(b) {
				if b[i] == ':' {
					i++
				}
				if len(b)-i < 2 {
					return 0, tsShape
				}
				if om, ok = num2(b, i); !ok {
					return 0, tsShape
				}
				i += 2
			}
			if oh > 23 || om > 59 {
				return 0, tsZone
			}
			off = sign * (oh*3600 + om*60)
		default:
			return 0, tsShape
		}
		if i != len(b) {
			return 0, tsShape
		}
	}

	switch {
	case y < minYear || y > maxYear:
		return 0, tsYear
	case mo < 1 || mo > 12:
		return 0, tsMonth
	case d < 1 || d > daysIn(y, mo):
		return 0, tsDay
	case h > 23:
		return 0, tsHour
	case mi > 59:
		return 0, tsMinute
	case s > 59:
		return 0, tsSecond
	}
	secs := int64(daysFromCivil(y, mo, d))*86400 + int64(h*3600+mi*60+s-off)
	return time.Duration(secs)*time.Second + time.Duration(frac), ""
}

// daysFromCivil returns the number of days from 1970-01-01 to the given
// proleptic Gregorian date (Howard Hinnant's days_from_civil). y must be
// non-negative, which parseTimestamp guarantees.
func daysFromCivil(y, m, d int) int {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400 // [0, 399]
	mp := m - 3        // March-based month, [0, 11]
	if m <= 2 {
		mp = m + 9
	}
	doy := (153*mp+2)/5 + d - 1            // [0, 365]
	doe := yoe*365 + yoe/4 - yoe/100 + doy // [0, 146096]
	return era*146097 + doe - 719468
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
