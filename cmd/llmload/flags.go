package main

import (
	"flag"
	"time"
)

// durationFlag accepts "30s"-style durations and bare seconds ("120"),
// because the seed's command line says --timeout 120 and --log-every 1.
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if f.d == nil {
		return "0s"
	}
	return f.d.String()
}

func (f durationFlag) Set(s string) error {
	d, err := parseSeconds(s)
	if err != nil {
		return err
	}
	*f.d = d
	return nil
}

func durationVar(fs *flag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var(durationFlag{p}, name, usage)
}

// setFlags returns the names of the flags given on the command line, so a
// flag's value can win over the scenario and llmload.toml only when set.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}
