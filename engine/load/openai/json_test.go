package openai

import (
	"encoding/json"
	"testing"
)

// decodeString decodes a JSON string, failing the test on invalid JSON.
func decodeString(t testing.TB, b []byte) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("invalid JSON string %q: %v", b, err)
	}
	return s
}

// canonical is what encoding/json makes of s: invalid UTF-8 replaced.
func canonical(t testing.TB, s string) string {
	t.Helper()
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return decodeString(t, raw)
}
