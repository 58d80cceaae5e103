package compose

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmload/llmload/internal/testenv"
)

// TestRulesWithPromtool checks the rendered rules with Prometheus' own
// tools: `promtool check rules` (syntax, PromQL, templates) and `promtool
// test rules` on testdata/rules_test.yml, whose input series are two vLLM
// replicas, one slow and saturated, one healthy, and whose expectations
// are the alerts (labels and rendered annotations) and recorded values at
// the default objectives.
func TestRulesWithPromtool(t *testing.T) {
	promtool := testenv.Tool(t, "promtool")
	dir := t.TempDir()
	rules, err := RenderRules(5*time.Second, DefaultObjectives(), "test")
	if err != nil {
		t.Fatal(err)
	}
	unit, err := os.ReadFile("testdata/rules_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"rules.yml": rules, "rules_test.yml": unit} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, args := range [][]string{{"check", "rules", "rules.yml"}, {"test", "rules", "rules_test.yml"}} {
		cmd := exec.CommandContext(ctx, promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestRulesObjectives: the --alert-* flags reach the rules, and bad ones
// are refused naming the flag.
func TestRulesObjectives(t *testing.T) {
	a := DefaultObjectives()
	a.TTFTp99, a.KVCache, a.QueueDepth, a.For = 1500*time.Millisecond, 0.8, 7, 90*time.Second
	b, err := RenderRules(2*time.Second, a, "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"model_name_le:vllm_time_to_first_token_seconds_bucket:rate)) > 1.5\"",
		"(vllm:kv_cache_usage_perc) > 0.8\"", "(vllm:num_requests_waiting) > 7\"", "for: 1m30s",
		"rate(llmload_ttft_seconds_bucket[8s])"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("rules lack %q", want)
		}
	}
	for _, c := range []struct {
		edit func(*Objectives)
		flag string
	}{
		{func(a *Objectives) { a.ITLp99 = 0 }, "--alert-itl-p99"},
		{func(a *Objectives) { a.E2Ep99 = 1500 * time.Microsecond }, "--alert-e2e-p99"},
		{func(a *Objectives) { a.KVCache = 1.5 }, "--alert-kv-cache"},
		{func(a *Objectives) { a.QueueDepth = 0 }, "--alert-queue"},
		{func(a *Objectives) { a.For = -time.Second }, "--alert-for"},
	} {
		a := DefaultObjectives()
		c.edit(&a)
		if err := a.Validate(); err == nil || !strings.HasPrefix(err.Error(), c.flag) {
			t.Errorf("%s: error %v, want one naming the flag", c.flag, err)
		}
	}
}
