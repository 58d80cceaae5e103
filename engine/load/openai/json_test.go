package openai

import (
	"encoding/json"
	"math"
	"strings"
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

func TestAppendFloatMatchesEncodingJSON(t *testing.T) {
	for _, f := range []float64{0, 1, -1, 0.1, 0.7, 1.5, 100, 1e20, 1e21, 1e-6, 1e-7, 123456789.125, 5e-324, math.MaxFloat64, -2.5e-9} {
		want, _ := json.Marshal(f)
		got, err := appendFloat(nil, f, 64)
		if err != nil || string(got) != string(want) {
			t.Errorf("%v: got %s (%v), want %s", f, got, err, want)
		}
	}
	for _, f := range []float32{0.1, 1e-7, 3.4e38} {
		want, _ := json.Marshal(f)
		got, err := appendFloat(nil, float64(f), 32)
		if err != nil || string(got) != string(want) {
			t.Errorf("float32 %v: got %s (%v), want %s", f, got, err, want)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, err := appendFloat(nil, f, 64); err == nil {
			t.Errorf("%v: no error", f)
		}
	}
}

func TestAppendValue(t *testing.T) {
	v := map[string]any{
		"z": []any{1.5, "s", true, nil, map[string]any{"b": 1, "a": int64(2)}},
		"a": map[string]any{"y": false, "x": "\"q\""},
		"m": float32(0.25),
		"n": int32(-3),
		"u": uint64(7),
		"o": []string{"fallback", "path"},
		"p": map[string]int{"k2": 2, "k1": 1},
	}
	got, err := appendValue(nil, v, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a":{"x":"\"q\"","y":false},"m":0.25,"n":-3,"o":["fallback","path"],"p":{"k1":1,"k2":2},"u":7,"z":[1.5,"s",true,null,{"a":2,"b":1}]}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	// Map order must not leak into the bytes.
	for range 20 {
		again, _ := appendValue(nil, v, 0)
		if string(again) != want {
			t.Fatalf("non-deterministic encoding: %s", again)
		}
	}

	cyc := map[string]any{}
	cyc["self"] = cyc
	if _, err := appendValue(nil, cyc, 0); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: %v", err)
	}
	if _, err := appendValue(nil, []any{1.0, math.NaN()}, 0); err == nil || !strings.Contains(err.Error(), "[1]") {
		t.Errorf("NaN in a list: %v", err)
	}
	if _, err := appendValue(nil, map[string]any{"k": math.Inf(1)}, 0); err == nil || !strings.Contains(err.Error(), ".k") {
		t.Errorf("Inf in a map: %v", err)
	}
	if _, err := appendValue(nil, make(chan int), 0); err == nil {
		t.Error("channel: no error")
	}
}
