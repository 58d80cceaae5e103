package trace

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestDaysFromCivil(t *testing.T) {
	// Every day of the supported range, against the standard library.
	d := time.Date(minYear, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(maxYear+1, 1, 1, 0, 0, 0, 0, time.UTC)
	for ; d.Before(end); d = d.AddDate(0, 0, 1) {
		want := int(d.Unix() / 86400) // exact: d is a midnight
		if got := daysFromCivil(d.Year(), int(d.Month()), d.Day()); got != want {
			t.Fatalf("daysFromCivil(%s) = %d, want %d", d.Format(time.DateOnly), got, want)
		}
		if daysIn(d.Year(), int(d.Month())) < d.Day() {
			t.Fatalf("daysIn(%d, %d) < %d", d.Year(), d.Month(), d.Day())
		}
	}
}

func TestParseTimestampAgainstTimeParse(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	layouts := []string{
		"2006-01-02 15:04:05.0000000",      // 2023
		"2006-01-02 15:04:05.000000-07:00", // 2024
		"2006-01-02 15:04:05-07:00",        // 2024, whole second
		"2006-01-02T15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.000-0700",
		"2006-01-02 15:04:05",
	}
	lo := time.Date(minYear, 1, 2, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(maxYear, 12, 30, 0, 0, 0, 0, time.UTC).Unix()
	for i := range 20000 {
		inst := time.Unix(lo+rng.Int64N(hi-lo), rng.Int64N(1e9))
		zone := time.FixedZone("", (rng.IntN(2*23*60+1)-23*60)*60)
		if i%3 == 0 {
			zone = time.UTC
		}
		s := inst.In(zone).Format(layouts[i%len(layouts)])
		want, err := time.Parse(layouts[i%len(layouts)], s)
		if err != nil {
			t.Fatal(err)
		}
		got, p := parseTimestamp([]byte(s))
		if p != "" || got != time.Duration(want.UnixNano()) {
			t.Fatalf("parseTimestamp(%q) = %v, %q; want %v", s, got, p, time.Duration(want.UnixNano()))
		}
	}
}

func TestParseTimestampFractionBeyondNanoseconds(t *testing.T) {
	got, p := parseTimestamp([]byte("2024-05-12 00:00:00.1234567899999+00:00"))
	if want := at(2024, 5, 12, 0, 0, 0, 123456789); p != "" || got != want {
		t.Errorf("got %v %q, want %v (digits past ns truncated)", got, p, want)
	}
}
