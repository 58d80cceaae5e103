package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// fileSettings is llmload.toml: defaults for engine settings. Every key has
// the same name as its flag, with '_' for '-'.
type fileSettings struct {
	URL            string   `toml:"url"`
	Model          string   `toml:"model"`
	APIKey         string   `toml:"api_key"`
	APIKeyEnv      string   `toml:"api_key_env"`
	Timeout        duration `toml:"timeout"`
	StallTimeout   duration `toml:"stall_timeout"`
	Concurrency    int      `toml:"concurrency"`
	Limit          int64    `toml:"limit"`
	Out            string   `toml:"out"`
	LogEvery       duration `toml:"log_every"`
	SampleInterval duration `toml:"sample_interval"`
	DrainTimeout   duration `toml:"drain_timeout"`
	ServerMetrics  string   `toml:"server_metrics"`
	GPUMetrics     string   `toml:"gpu_metrics"`
	GPUIDs         string   `toml:"gpu_ids"`
	MetricsAddr    string   `toml:"metrics_addr"`
	MetricsLinger  duration `toml:"metrics_linger"`
}

// settingsKeys lists llmload.toml's keys, from fileSettings' tags, for the
// unknown-key error: a key added to the struct is listed without anyone
// remembering to.
func settingsKeys() []string {
	t := reflect.TypeFor[fileSettings]()
	keys := make([]string, t.NumField())
	for i := range keys {
		keys[i] = t.Field(i).Tag.Get("toml")
	}
	return keys
}

// duration accepts "30s"-style strings and bare numbers of seconds, as the
// seed's flags do.
type duration struct{ time.Duration }

func (d *duration) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case string:
		parsed, err := parseSeconds(x)
		if err != nil {
			return err
		}
		d.Duration = parsed
	case int64:
		d.Duration = time.Duration(x) * time.Second
	case float64:
		d.Duration = time.Duration(x * float64(time.Second))
	default:
		return fmt.Errorf("want a duration like \"30s\" or a number of seconds, got %T", v)
	}
	return nil
}

// loadSettings reads path. A missing file is fine when it is the implicit
// default (explicit=false); an unknown key is an error naming key and file.
func loadSettings(path string, explicit bool) (fileSettings, error) {
	var s fileSettings
	md, err := toml.DecodeFile(path, &s)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return s, nil
		}
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return s, fmt.Errorf("%s:%d: %s", path, perr.Position.Line, perr.Message)
		}
		return s, fmt.Errorf("reading settings %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return s, fmt.Errorf("%s: unknown key %s; known keys: %s",
			path, strings.Join(keys, ", "), strings.Join(settingsKeys(), ", "))
	}
	if s.APIKey != "" && s.APIKeyEnv != "" {
		return s, fmt.Errorf("%s: set api_key or api_key_env, not both", path)
	}
	if s.APIKeyEnv != "" {
		if _, ok := os.LookupEnv(s.APIKeyEnv); !ok {
			return s, fmt.Errorf("%s: api_key_env names %s, which is not set in the environment", path, s.APIKeyEnv)
		}
	}
	return s, nil
}

// parseSeconds accepts Go durations ("1m30s") and bare numbers of seconds
// ("120", "0.5"), as the seed's --timeout 120 does.
func parseSeconds(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		return time.Duration(f * float64(time.Second)), nil
	}
	return 0, fmt.Errorf("%q is not a duration: write it like 30s, 1m30s or 120 (seconds)", s)
}
