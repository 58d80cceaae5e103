package main

import (
	"flag"
	"fmt"
	"strings"
)

// splitArgs separates `llmload run SCRIPT [flags]` into the script path,
// the engine's own flags (parsed by fs) and the scenario's options (declared
// by the script with llm.options, so unknown until it is loaded). A flag is
// the engine's when fs defines it; anything else belongs to the script.
// Both --name value and --name=value are accepted; a script option with no
// value (last, or followed by another flag) means "true".
func splitArgs(fs *flag.FlagSet, args []string) (script string, engine []string, options map[string]string, err error) {
	options = map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			if script != "" {
				return "", nil, nil, fmt.Errorf("unexpected argument %q: give one scenario file, then flags", a)
			}
			script = a
			continue
		}
		if a == "--" {
			return "", nil, nil, fmt.Errorf("unexpected \"--\": flags follow the scenario file directly")
		}
		name := strings.TrimLeft(a, "-")
		value, hasValue := "", false
		if k, v, ok := strings.Cut(name, "="); ok {
			name, value, hasValue = k, v, true
		}
		if name == "" {
			return "", nil, nil, fmt.Errorf("malformed flag %q", a)
		}
		if f := fs.Lookup(name); f != nil || name == "h" || name == "help" {
			if hasValue {
				engine = append(engine, "--"+name+"="+value)
				continue
			}
			if f == nil || isBoolFlag(f) {
				engine = append(engine, "--"+name)
				continue
			}
			if i+1 >= len(args) {
				return "", nil, nil, fmt.Errorf("flag --%s needs a value", name)
			}
			engine = append(engine, "--"+name+"="+args[i+1])
			i++
			continue
		}
		if !hasValue {
			if i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
				value = args[i+1]
				i++
			} else {
				value = "true"
			}
		}
		if _, dup := options[name]; dup {
			return "", nil, nil, fmt.Errorf("option --%s given twice", name)
		}
		options[name] = value
	}
	return script, engine, options, nil
}

// boolFlag is the method the flag package itself looks for to let a flag
// stand without a value (flag.boolFlag is unexported).
type boolFlag interface{ IsBoolFlag() bool }

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(boolFlag)
	return ok && b.IsBoolFlag()
}
