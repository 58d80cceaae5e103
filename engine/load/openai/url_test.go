package openai

import (
	"strings"
	"testing"
)

func TestParseURL(t *testing.T) {
	std := URLs{
		Root:        "http://h:8000",
		Chat:        "http://h:8000/v1/chat/completions",
		Completions: "http://h:8000/v1/completions",
	}
	cases := []struct {
		in   string
		want URLs
	}{
		{"http://h:8000", std},
		{"http://h:8000/", std},
		{"http://h:8000/v1", std},
		{"http://h:8000/v1/", std},
		{"http://h:8000/v1/chat/completions", std},
		{"http://h:8000/v1/chat/completions/", std},
		{"http://h:8000/v1/completions", std},
		{" http://h:8000/v1 ", std},
		{"https://gw.example/team/llm", URLs{
			Root:        "https://gw.example/team/llm",
			Chat:        "https://gw.example/team/llm/v1/chat/completions",
			Completions: "https://gw.example/team/llm/v1/completions",
		}},
		{"https://gw.example/openai/deployments/x/chat/completions?api-version=2024-06-01", URLs{
			Root:        "https://gw.example/openai/deployments/x",
			Chat:        "https://gw.example/openai/deployments/x/chat/completions?api-version=2024-06-01",
			Completions: "https://gw.example/openai/deployments/x/completions?api-version=2024-06-01",
		}},
		{"http://[::1]:9000/v1/completions", URLs{
			Root:        "http://[::1]:9000",
			Chat:        "http://[::1]:9000/v1/chat/completions",
			Completions: "http://[::1]:9000/v1/completions",
		}},
	}
	for _, c := range cases {
		got, err := ParseURL(c.in)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("ParseURL(%q) =\n %+v\nwant\n %+v", c.in, got, c.want)
		}
		if root := BaseURL(c.in); root != c.want.Root {
			t.Errorf("BaseURL(%q) = %q, want %q", c.in, root, c.want.Root)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	if got := BaseURL("localhost:8000/"); got != "localhost:8000" {
		t.Errorf("BaseURL of an unparsable URL = %q", got)
	}
	for in, want := range map[string]string{
		"":                          "scheme",
		"h:8000":                    "scheme",
		"ftp://h/v1":                "scheme",
		"http:///v1":                "no host",
		"http://h:8000/v1#x":        "fragments",
		"http://u:p@h:8000":         "API key",
		"http://h:8000/%zz":         "invalid URL escape",
		"localhost:8000/v1/chat/co": "scheme",
	} {
		_, err := ParseURL(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseURL(%q): error %v, want one mentioning %q", in, err, want)
		}
	}
}
