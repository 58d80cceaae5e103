package credentials

import "testing"

func TestFromEnv(t *testing.T) {
	env := map[string]string{}
	get := func(k string) string { return env[k] }
	if k, n := FromEnv(get); k != "" || n != "" {
		t.Errorf("empty environment: %q from %q", k, n)
	}
	env["OPENAI_API_KEY"] = "sk-openai"
	if k, n := FromEnv(get); k != "sk-openai" || n != "OPENAI_API_KEY" {
		t.Errorf("OPENAI_API_KEY: %q from %q", k, n)
	}
	env["LLMLOAD_API_KEY"] = "sk-llmload"
	if k, n := FromEnv(get); k != "sk-llmload" || n != "LLMLOAD_API_KEY" {
		t.Errorf("LLMLOAD_API_KEY should win: %q from %q", k, n)
	}
}
