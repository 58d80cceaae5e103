package redact

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestArgs(t *testing.T) {
	isBool := func(n string) bool { return n == "token-ids" || n == "no-ui" }
	in := []string{"run", "x.lua", "--api-key", "sk-1", "--api-key=sk-2", "--hf_token", "hf-3",
		"--client-secret=s4", "--password", "p5", "--max-tokens", "256", "--token-ids", "--no-ui",
		"--url", "http://u:pw6@h:8000/v1?api_key=k7&model=m", "--url=https://h/?token=t8",
		"--accesstoken", "t9", "--api-key"}
	want := []string{"run", "x.lua", "--api-key", Mask, "--api-key=" + Mask, "--hf_token", Mask,
		"--client-secret=" + Mask, "--password", Mask, "--max-tokens", "256", "--token-ids", "--no-ui",
		"--url", "http://" + Mask + "@h:8000/v1?api_key=" + Mask + "&model=m", "--url=https://h/?token=" + Mask,
		"--accesstoken", Mask, "--api-key"}
	got := Args(in, isBool)
	if !slices.Equal(got, want) {
		t.Errorf("Args =\n%q\nwant\n%q", got, want)
	}
	for _, s := range got {
		for _, secret := range []string{"sk-1", "sk-2", "hf-3", "s4", "p5", "pw6", "k7", "t8", "t9"} {
			if strings.Contains(s, secret) {
				t.Errorf("%q still holds %s", s, secret)
			}
		}
	}
	if in[3] != "sk-1" {
		t.Error("Args changed its argument")
	}
}

func TestURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://127.0.0.1:8000/v1/chat/completions", "http://127.0.0.1:8000/v1/chat/completions"},
		{"http://h:1/v1?api_key=abc", "http://h:1/v1?api_key=" + Mask},
		{"http://h:1/v1?KEY=abc&x=1&access_token=z", "http://h:1/v1?KEY=" + Mask + "&x=1&access_token=" + Mask},
		{"https://user:pass@h/metrics", "https://" + Mask + "@h/metrics"},
		{"http://h:1/v1?max_tokens=5", "http://h:1/v1?max_tokens=5"},
		{"http://h:1/v1?api%5Fkey=abc", "http://h:1/v1?api%5Fkey=" + Mask},
		{"http://[::1:bad/?token=x", Mask + " (a URL that cannot be parsed)"},
		{"not a url", "not a url"},
		{`prom+http://u:p@prom:9090?selector={a="b"}&token=t`, "prom+http://" + Mask + `@prom:9090?selector={a="b"}&token=` + Mask},
	} {
		if got := URL(tc.in); got != tc.want {
			t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzURL checks that masking never panics, is idempotent (what was
// masked stays masked, nothing else changes on a second pass), and that a
// secret query value placed in any URL does not survive.
func FuzzURL(f *testing.F) {
	f.Add("http://u:p@h:1/v1?api_key=k", "zq9secret")
	f.Add("https://h/x?a=1", "tok")
	f.Fuzz(func(t *testing.T, s, secret string) {
		once := URL(s)
		if twice := URL(once); twice != once {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, once, twice)
		}
		if len(secret) < 6 || strings.ContainsAny(secret, "&#%") {
			return
		}
		u := "http://127.0.0.1:8000/v1?x=1&api_key=" + url.QueryEscape(secret)
		if out := URL(u); strings.Contains(out, url.QueryEscape(secret)) && !strings.Contains("http://127.0.0.1:8000/v1?x=1&api_key="+Mask, url.QueryEscape(secret)) {
			t.Fatalf("the secret survived: %q", out)
		}
	})
}

func TestText(t *testing.T) {
	in := `Get "http://u:pw@h:1/metrics?token=t1": dial tcp: refused; see https://h/?api_key=k2 and http://ok/x`
	want := `Get "http://` + Mask + `@h:1/metrics?token=` + Mask + `": dial tcp: refused; see https://h/?api_key=` + Mask + ` and http://ok/x`
	if got := Text(in); got != want {
		t.Errorf("Text =\n%s\nwant\n%s", got, want)
	}
}
