package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
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

// listFlag collects a repeatable flag whose values may also be
// comma-separated: --allow-read /a --allow-read /b,/c.
type listFlag struct{ list *[]string }

func (f listFlag) String() string {
	if f.list == nil {
		return ""
	}
	return strings.Join(*f.list, ",")
}

func (f listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*f.list = append(*f.list, v)
		}
	}
	return nil
}

// setFlags returns the names of the flags given on the command line, so a
// flag's value can win over the scenario and llmload.toml only when set.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// parseCommandFlags parses a subcommand's flags and positional arguments
// in any order (so `stack logs vllm --follow` works). --help prints
// "usage: NAME [flags]", about and the flags. It returns the positionals,
// or an exit code when parsing ended the command (help or an error).
func parseCommandFlags(fs *flag.FlagSet, args []string, about string, stdout, stderr io.Writer) ([]string, int, bool) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprintf(stdout, "usage: %s [flags]\n\n%s\n\nFlags:\n", fs.Name(), about)
				printFlags(stdout, fs)
				return nil, exitOK, true
			}
			fmt.Fprintf(stderr, "%s: %v (see %s --help)\n", fs.Name(), err, fs.Name())
			return nil, exitConfig, true
		}
		if fs.NArg() == 0 {
			return pos, 0, false
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
