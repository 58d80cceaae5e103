package prompt

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/llmload/llmload/engine/load/request"
)

// tokenizer is a fake server-side tokenizer with a chat template, in the
// manner of vLLM's /tokenize.
type tokenizer struct {
	perWord      func(w string) int // tokens per whitespace word; nil = 1
	bos          int                // tokens before everything
	perMessage   int                // role header and end-of-turn per message
	genPrompt    int                // the assistant header added by add_generation_prompt
	maxModelLen  int                // 0 = unlimited
	status       int                // when set, every request gets this status
	reply        string             // when set, every 200 reply is this body
	wantAuth     string             // when set, the Authorization header required
	model        string             // the only model served
	mu           sync.Mutex
	requests     []tokenizeRequest
	observedPath string
}

type tokenizeRequest struct {
	Model               string    `json:"model"`
	Prompt              *string   `json:"prompt"`
	Messages            []Message `json:"messages"`
	AddGenerationPrompt *bool     `json:"add_generation_prompt"`
}

type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

func (tk *tokenizer) textTokens(s string) int {
	n := 0
	for _, w := range strings.Fields(s) {
		if tk.perWord == nil {
			n++
		} else {
			n += tk.perWord(w)
		}
	}
	return n
}

// count is what the server would report as usage.prompt_tokens.
func (tk *tokenizer) count(r tokenizeRequest) int {
	n := tk.bos
	if r.Prompt != nil {
		return n + tk.textTokens(*r.Prompt)
	}
	for _, m := range r.Messages {
		n += tk.perMessage + tk.textTokens(m.Content)
	}
	if r.AddGenerationPrompt == nil || *r.AddGenerationPrompt {
		n += tk.genPrompt
	}
	return n
}

func (tk *tokenizer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tk.mu.Lock()
	tk.observedPath = r.URL.Path
	tk.mu.Unlock()
	if r.URL.Path != "/tokenize" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if tk.wantAuth != "" && r.Header.Get("Authorization") != tk.wantAuth {
		http.Error(w, `{"error":"Unauthorized"}`, http.StatusUnauthorized)
		return
	}
	if tk.status != 0 {
		http.Error(w, `{"error":"test status"}`, tk.status)
		return
	}
	var req tokenizeRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	tk.mu.Lock()
	tk.requests = append(tk.requests, req)
	tk.mu.Unlock()
	if tk.reply != "" {
		fmt.Fprint(w, tk.reply)
		return
	}
	if req.Model != tk.model {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"object":"error","message":"The model %q does not exist.","code":404}`, req.Model)
		return
	}
	n := tk.count(req)
	if tk.maxModelLen > 0 && n > tk.maxModelLen {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"object":"error","message":"This model's maximum context length is %d tokens. However, you requested %d tokens."}`, tk.maxModelLen, n)
		return
	}
	ids := make([]int, n)
	for i := range ids {
		ids[i] = 1000 + i
	}
	json.NewEncoder(w).Encode(map[string]any{"count": n, "max_model_len": tk.maxModelLen, "tokens": ids})
}

// simChat and simCompletions follow stack/sim's rules: one token per
// whitespace word, 1 BOS, 4 per message, 3 for the generation prompt.
func simLike() *tokenizer {
	return &tokenizer{bos: 1, perMessage: 4, genPrompt: 3, maxModelLen: 32768, model: "m"}
}

func serve(t *testing.T, tk *tokenizer) string {
	t.Helper()
	srv := httptest.NewServer(tk)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestCalibrateSimulatorRules(t *testing.T) {
	for _, c := range []struct {
		ep   request.Endpoint
		a, b float64
	}{{request.Chat, 1, 8}, {request.Completions, 1, 1}} {
		t.Run(c.ep.String(), func(t *testing.T) {
			tk := simLike()
			cal, err := Calibrate(t.Context(), serve(t, tk), "m", c.ep, nil)
			if err != nil {
				t.Fatal(err)
			}
			m := cal.Model()
			if math.Abs(m.A-c.a) > 1e-9 || math.Abs(m.B-c.b) > 1e-6 {
				t.Fatalf("fitted %+v, want a=%v b=%v", m, c.a, c.b)
			}
			r := cal.Report()
			if r.Method != MethodTokenize || len(r.Points) != len(DefaultSizes) || r.MaxResidual > 1e-6 || r.MaxModelLen != 32768 || r.Note != "" {
				t.Errorf("report %+v", r)
			}
			if cal.Learning() {
				t.Error("a /tokenize calibration should not learn")
			}
			want := fmt.Sprintf("tokenize (%s): tokens = 1.000*words %+.1f, max residual 0.0 over 3 points", c.ep, c.b)
			if got := cal.String(); got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
			for i, req := range tk.requests {
				if req.Model != "m" {
					t.Errorf("request %d: model %q", i, req.Model)
				}
				if c.ep == request.Chat {
					if len(req.Messages) != 1 || req.Messages[0].Role != "user" || req.Prompt != nil || req.AddGenerationPrompt == nil || !*req.AddGenerationPrompt {
						t.Errorf("chat request %d has the wrong shape: %+v", i, req)
					}
				} else if req.Prompt == nil || req.Messages != nil {
					t.Errorf("completions request %d has the wrong shape: %+v", i, req)
				}
			}
		})
	}
}

// A tokenizer that splits long words: not exactly linear in words, so the
// fit is approximate. The point of calibration is that a prompt sized with
// it lands near the requested count.
func TestCalibrateApproximateTokenizer(t *testing.T) {
	tk := &tokenizer{
		perWord: func(w string) int { return 1 + len(w)/8 },
		bos:     1, perMessage: 5, genPrompt: 5, model: "m",
	}
	cal, err := Calibrate(t.Context(), serve(t, tk)+"/v1/", "m", request.Chat, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := cal.Model()
	if m.A < 1.05 || m.A > 1.4 {
		t.Fatalf("slope %v, want between 1.05 and 1.4", m.A)
	}
	var src Source
	for seq, want := range []int{100, 1000, 4000} {
		src.Seed(1, uint64(seq))
		text := string(src.AppendText(nil, cal.WordsFor(want)))
		got := tk.count(tokenizeRequest{Messages: []Message{{"user", text}}})
		if rel := math.Abs(float64(got-want)) / float64(want); rel > 0.03 {
			t.Errorf("asked %d tokens, the server counted %d (%.1f%% off)", want, got, 100*rel)
		}
	}
	// The data is not exactly linear, so the report must show a residual.
	if r := cal.Report(); r.MaxResidual <= 0 || r.RMSResidual <= 0 || r.RMSResidual > r.MaxResidual {
		t.Errorf("residuals not reported: %+v", r)
	}
}

func TestCalibrateTwoTokensPerWord(t *testing.T) {
	tk := &tokenizer{perWord: func(string) int { return 2 }, bos: 2, perMessage: 20, genPrompt: 8, model: "m"}
	cal, err := Calibrate(t.Context(), serve(t, tk), "m", request.Chat, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := cal.Model(); math.Abs(m.A-2) > 1e-9 || math.Abs(m.B-30) > 1e-6 {
		t.Fatalf("fitted %+v, want a=2 b=30", m)
	}
	if w := cal.WordsFor(1030); w != 500 {
		t.Errorf("WordsFor(1030) = %d, want 500", w)
	}
}

// Without /tokenize the calibration learns from usage: the planner's
// requests are paired with the server's counts as results come back.
func TestCalibrateFallsBackToUsage(t *testing.T) {
	for _, status := range []int{http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			tk := simLike()
			tk.status = status
			cal, err := Calibrate(t.Context(), serve(t, tk), "m", request.Chat, nil)
			if err != nil {
				t.Fatal(err)
			}
			if cal.Method() != MethodUsage || !strings.Contains(cal.Report().Note, fmt.Sprint(status)) {
				t.Fatalf("method %s, note %q", cal.Method(), cal.Report().Note)
			}
			if cal.Model() != Identity {
				t.Fatalf("starting model %+v, want Identity", cal.Model())
			}
			var src Source
			lengths := []int{300, 1500, 80, 700, 2500, 40}
			for seq, tokens := range lengths {
				words := cal.WordsFor(tokens)
				src.Seed(1, uint64(seq))
				text := string(src.AppendText(nil, words))
				cal.NoteSent("sc", int64(seq), words)
				cal.Observe(&request.Result{Scenario: "sc", Seq: int64(seq), UsageFromServer: true,
					PromptTokens: tk.count(tokenizeRequest{Messages: []Message{{"user", text}}})})
			}
			if m := cal.Model(); math.Abs(m.A-1) > 1e-9 || math.Abs(m.B-8) > 1e-6 {
				t.Fatalf("learned %+v, want a=1 b=8", m)
			}
			if w := cal.WordsFor(1000); w != 992 {
				t.Errorf("WordsFor(1000) = %d after learning, want 992", w)
			}
		})
	}
	// An unknown path below a proxy is a 404 too.
	tk := simLike()
	cal, err := Calibrate(t.Context(), serve(t, tk)+"/proxy", "m", request.Completions, nil)
	if err != nil || cal.Method() != MethodUsage {
		t.Fatalf("404 under a prefix: %v, %v", cal, err)
	}
	if tk.observedPath != "/proxy/tokenize" {
		t.Errorf("asked %q, want /proxy/tokenize", tk.observedPath)
	}
}

func TestCalibrateUnusableReplies(t *testing.T) {
	for name, reply := range map[string]string{
		"llama.cpp shape": `{"tokens":[]}`,
		"not json":        `<html>hello</html>`,
		"zero count":      `{"count":0}`,
	} {
		t.Run(name, func(t *testing.T) {
			tk := simLike()
			tk.reply = reply
			cal, err := Calibrate(t.Context(), serve(t, tk), "m", request.Completions, nil)
			if err != nil {
				t.Fatal(err)
			}
			if cal.Method() != MethodUsage || !strings.Contains(cal.Report().Note, "no token count") {
				t.Errorf("method %s, note %q", cal.Method(), cal.Report().Note)
			}
		})
	}
}

func TestCalibrateSmallContext(t *testing.T) {
	tk := simLike()
	tk.maxModelLen = 1000
	cal, err := Calibrate(t.Context(), serve(t, tk), "m", request.Chat, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := cal.Report()
	if r.Method != MethodTokenize || len(r.Points) != 2 || math.Abs(r.A-1) > 1e-9 || math.Abs(r.B-8) > 1e-6 {
		t.Fatalf("report %+v", r)
	}
	if !strings.Contains(r.Note, "2048 words") {
		t.Errorf("note %q does not name the skipped size", r.Note)
	}
	// Too small for two sizes: learn from usage instead.
	tk = simLike()
	tk.maxModelLen = 300
	cal, err = Calibrate(t.Context(), serve(t, tk), "m", request.Chat, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cal.Method() != MethodUsage || !strings.Contains(cal.Report().Note, "1 usable") {
		t.Errorf("method %s, note %q", cal.Method(), cal.Report().Note)
	}
	// A server that rejects even the smallest prompt (400).
	tk = simLike()
	tk.maxModelLen = 10
	cal, err = Calibrate(t.Context(), serve(t, tk), "m", request.Completions, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cal.Method() != MethodUsage || !strings.Contains(cal.Report().Note, "HTTP 400") {
		t.Errorf("method %s, note %q", cal.Method(), cal.Report().Note)
	}
}

func TestCalibrateErrors(t *testing.T) {
	tk := simLike()
	tk.wantAuth = "Bearer k"
	url := serve(t, tk)
	_, err := Calibrate(t.Context(), url, "m", request.Chat, nil)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "API key") {
		t.Errorf("unauthorised: %v", err)
	}
	cal, err := Calibrate(t.Context(), url, "m", request.Chat, &Options{Headers: map[string]string{"Authorization": "Bearer k"}})
	if err != nil || cal.Method() != MethodTokenize {
		t.Errorf("with the header: %v", err)
	}
	cal, err = Calibrate(t.Context(), url, "m", request.Chat, &Options{APIKey: "k"})
	if err != nil || cal.Method() != MethodTokenize {
		t.Errorf("with the key: %v", err)
	}

	tk = simLike()
	tk.status = http.StatusInternalServerError
	if _, err := Calibrate(t.Context(), serve(t, tk), "m", request.Chat, nil); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("server error: %v", err)
	}

	srv := httptest.NewServer(simLike())
	dead := srv.URL
	srv.Close()
	if _, err := Calibrate(t.Context(), dead, "m", request.Chat, nil); err == nil || !strings.Contains(err.Error(), dead) {
		t.Errorf("unreachable server: %v", err)
	}

	_, err = Calibrate(t.Context(), serve(t, simLike()), "other-model", request.Chat, nil)
	if err == nil || !strings.Contains(err.Error(), `does not serve model "other-model"`) {
		t.Errorf("unknown model: %v", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Calibrate(ctx, serve(t, simLike()), "m", request.Chat, nil); err == nil {
		t.Error("cancelled context: no error")
	}

	if _, err := Calibrate(t.Context(), url, "m", request.Chat, &Options{Sizes: []int{10, 0}}); err == nil || !strings.Contains(err.Error(), ">= 1") {
		t.Errorf("bad sizes: %v", err)
	}
	if _, err := Calibrate(t.Context(), url, "m", request.Endpoint(9), nil); err == nil {
		t.Error("unknown endpoint: no error")
	}
}

func TestCalibrateCustomSizesAndPrior(t *testing.T) {
	tk := simLike()
	cal, err := Calibrate(t.Context(), serve(t, tk), "m", request.Completions, &Options{Sizes: []int{100}, Prior: Model{A: 1, B: 0}})
	if err != nil {
		t.Fatal(err)
	}
	if len(tk.requests) != 1 || cal.Model() != (Model{A: 1, B: 1}) {
		t.Errorf("%d requests, model %+v", len(tk.requests), cal.Model())
	}
}
