package prompt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/llmload/llmload/engine/load/request"
)

// DefaultSizes are the prompt lengths, in words, that Calibrate measures:
// far enough apart that the slope is well determined, small enough for a
// 2k-context model to accept the first two.
var DefaultSizes = []int{64, 512, 2048}

// calibrationSeed picks the calibration prompts' stream; any value works,
// fixing it makes a calibration reproducible.
const calibrationSeed = 0x63616c6962726174

// Options tune Calibrate. The zero value is the default.
type Options struct {
	Client  *http.Client      // nil: a client with a 30 s timeout
	APIKey  string            // sent as "Authorization: Bearer ..." when set
	Headers map[string]string // added to every request
	Sizes   []int             // word counts to measure; nil: DefaultSizes
	// Prior is the starting model if calibration falls back to learning
	// from usage; the zero value means Identity.
	Prior Model
}

// Calibrate measures how the server at root counts synthetic prompts for
// model on endpoint ep, by sending prompts of several sizes to its POST
// /tokenize (vLLM and SGLang serve it at the server root, beside /v1; a
// root that ends in /v1 is accepted and the /v1 dropped) and fitting
// tokens = A*words + B.
//
// For ep == request.Chat the prompt is one user message with the
// generation prompt added, exactly as the Builder sends synthetic chat
// prompts, so B includes the chat template; for request.Completions it is
// the bare text, so B is the BOS token(s).
//
// When the server has no /tokenize (HTTP 404, 405 or 501) or its replies
// are unusable (another server's /tokenize, every size rejected), the
// returned Calibration learns from usage instead (MethodUsage) and its
// Report's Note says why. Errors are returned only for what would break
// the run anyway: a server that cannot be reached, refuses the credentials
// (401, 403), does not know the model (vLLM's 404 "The model `x` does not
// exist.") or fails (5xx), and a cancelled ctx.
func Calibrate(ctx context.Context, root, model string, ep request.Endpoint, opt *Options) (*Calibration, error) {
	var o Options
	if opt != nil {
		o = *opt
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Sizes == nil {
		o.Sizes = DefaultSizes
	}
	if o.Prior == (Model{}) {
		o.Prior = Identity
	}
	for _, n := range o.Sizes {
		if n < 1 {
			return nil, fmt.Errorf("prompt calibration: sizes must be >= 1 word, got %d", n)
		}
	}
	if o.APIKey != "" {
		h := make(map[string]string, len(o.Headers)+1)
		for k, v := range o.Headers {
			h[k] = v
		}
		h["Authorization"] = "Bearer " + o.APIKey
		o.Headers = h
	}
	root = strings.TrimSuffix(strings.TrimRight(root, "/"), "/v1")
	url := root + "/tokenize"

	fallback := func(why string) *Calibration {
		c := NewOnline(ep, o.Prior)
		c.note = why
		return c
	}

	var (
		points      []Point
		maxModelLen int
		rejected    []string
		src         Source
	)
	for _, n := range o.Sizes {
		// Skip sizes the first reply says cannot fit the context.
		if maxModelLen > 0 && len(points) > 0 {
			est := float64(points[0].Tokens) * float64(n) / float64(points[0].Words)
			if est > float64(maxModelLen) {
				rejected = append(rejected, fmt.Sprintf("%d words: beyond max_model_len %d", n, maxModelLen))
				continue
			}
		}
		src.Seed(calibrationSeed, uint64(n))
		text := string(src.AppendText(nil, n))
		body, err := tokenizeBody(model, ep, text)
		if err != nil {
			return nil, err
		}
		rep, status, err := postTokenize(ctx, o.Client, url, o.Headers, body)
		switch {
		case err != nil:
			return nil, fmt.Errorf("prompt calibration: POST %s: %w", url, err)
		case status == http.StatusNotFound && model != "" && strings.Contains(rep.errText, model) && strings.Contains(rep.errText, "does not exist"):
			// vLLM's answer to an unknown model name: every request would fail.
			return nil, fmt.Errorf("prompt calibration: POST %s: the server does not serve model %q (%s); check --model", url, model, rep.errText)
		case status == http.StatusNotFound || status == http.StatusMethodNotAllowed || status == http.StatusNotImplemented:
			return fallback(fmt.Sprintf("POST %s: HTTP %d (no /tokenize): learning from usage.prompt_tokens", url, status)), nil
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			return nil, fmt.Errorf("prompt calibration: POST %s: HTTP %d: the server refused the credentials; check the API key", url, status)
		case status >= 500:
			return nil, fmt.Errorf("prompt calibration: POST %s: HTTP %d: %s", url, status, rep.errText)
		case status < 200 || status > 299:
			// Typically 400 for a prompt longer than the context.
			rejected = append(rejected, fmt.Sprintf("%d words: HTTP %d: %s", n, status, rep.errText))
			continue
		}
		count := rep.Count
		if count == 0 {
			count = len(rep.Tokens)
		}
		if count <= 0 {
			return fallback(fmt.Sprintf("POST %s: reply has no token count (not a vLLM-style /tokenize): learning from usage.prompt_tokens", url)), nil
		}
		if rep.MaxModelLen > 0 {
			maxModelLen = rep.MaxModelLen
		}
		points = append(points, Point{Words: n, Tokens: count})
	}
	if len(points) < 2 && len(o.Sizes) >= 2 {
		return fallback(fmt.Sprintf("POST %s: %d usable measurement(s) (%s): learning from usage.prompt_tokens",
			url, len(points), strings.Join(rejected, "; "))), nil
	}
	if len(points) == 0 {
		return fallback(fmt.Sprintf("POST %s: no usable measurement (%s): learning from usage.prompt_tokens",
			url, strings.Join(rejected, "; "))), nil
	}
	m := Fit(points, o.Prior)
	c := &Calibration{
		endpoint:    ep,
		method:      MethodTokenize,
		prior:       o.Prior,
		maxModelLen: maxModelLen,
		fitPoints:   points,
	}
	if len(rejected) > 0 {
		c.note = "skipped " + strings.Join(rejected, "; ")
	}
	c.cur.Store(&m)
	return c, nil
}

func tokenizeBody(model string, ep request.Endpoint, text string) ([]byte, error) {
	type message struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	type body struct {
		Model               string    `json:"model,omitempty"`
		Prompt              string    `json:"prompt,omitempty"`
		Messages            []message `json:"messages,omitempty"`
		AddGenerationPrompt *bool     `json:"add_generation_prompt,omitempty"`
	}
	b := body{Model: model}
	switch ep {
	case request.Chat:
		yes := true
		b.Messages = []message{{Role: "user", Content: text}}
		b.AddGenerationPrompt = &yes
	case request.Completions:
		b.Prompt = text
	default:
		return nil, fmt.Errorf("prompt calibration: unknown endpoint %d", ep)
	}
	return json.Marshal(b)
}

type tokenizeReply struct {
	Count       int   `json:"count"`
	Tokens      []int `json:"tokens"`
	MaxModelLen int   `json:"max_model_len"`
	errText     string
}

// postTokenize returns the decoded reply of a 2xx response, or the status
// with a short excerpt of the body for any other.
func postTokenize(ctx context.Context, hc *http.Client, url string, headers map[string]string, body []byte) (tokenizeReply, int, error) {
	var rep tokenizeReply
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return rep, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return rep, 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return rep, 0, fmt.Errorf("reading reply: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		rep.errText = excerpt(raw)
		return rep, resp.StatusCode, nil
	}
	if json.Unmarshal(raw, &rep) != nil {
		// Not vLLM's reply shape: the caller treats a reply without a
		// count as another server's /tokenize.
		rep = tokenizeReply{}
	}
	return rep, resp.StatusCode, nil
}

func excerpt(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	if s == "" {
		s = "(empty body)"
	}
	return s
}
