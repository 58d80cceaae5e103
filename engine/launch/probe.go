package launch

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/llmload/llmload/engine/load/openai"
	"github.com/llmload/llmload/engine/load/prompt"
	"github.com/llmload/llmload/engine/load/request"
)

// settleEndpoints gives every scenario a URL and a model: the scenarios
// without a URL share one simulator (cfg.StartSim), those without a model
// ask their server's /v1/models, once per server. It returns the
// simulator's stop function (nil when none was started).
func settleEndpoints(ctx context.Context, cfg *Config, hc *http.Client) (stopSim func(), err error) {
	simURL := ""
	models := map[string]string{}
	for i := range cfg.Scenarios {
		sc := &cfg.Scenarios[i]
		if sc.URL == "" {
			if simURL == "" {
				if cfg.StartSim == nil {
					return stopSim, fmt.Errorf("scenario %s: no URL and no simulator to start", sc.Name)
				}
				if simURL, stopSim, err = cfg.StartSim(sc.Model); err != nil {
					return stopSim, fmt.Errorf("starting the built-in simulator: %w", err)
				}
			}
			sc.URL = simURL
		}
		if sc.Model != "" {
			continue
		}
		if m, ok := models[sc.URL]; ok {
			sc.Model = m
			continue
		}
		m, err := firstModel(ctx, sc.URL, sc.APIKey, cfg, hc)
		if err != nil {
			return stopSim, fmt.Errorf("scenario %s: no --model given and %v; pass --model", sc.Name, err)
		}
		sc.Model, models[sc.URL] = m, m
	}
	return stopSim, nil
}

// firstModel asks GET /v1/models, as vLLM's benchmark does when no model
// is given.
func firstModel(ctx context.Context, rawURL, apiKey string, cfg *Config, hc *http.Client) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.ProbeTimeout)
	defer cancel()
	base := openai.BaseURL(rawURL)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/models", nil)
	if err != nil {
		return "", err
	}
	if apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+apiKey)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("listing models at %s/v1/models failed: %w", base, err)
	}
	defer resp.Body.Close()
	var body struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s/v1/models answered %s", base, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || len(body.Data) == 0 {
		return "", fmt.Errorf("%s/v1/models listed no model", base)
	}
	return body.Data[0].ID, nil
}

// fitPromptModels fits the prompt-length model of both endpoints of sc.
// It never fails the run: the worst case is learning from usage as
// responses arrive. Each /tokenize probe is bounded by cfg.ProbeTimeout.
func fitPromptModels(ctx context.Context, cfg *Config, sc *Scenario, hc *http.Client) []*prompt.Calibration {
	var cals []*prompt.Calibration
	for _, ep := range []request.Endpoint{request.Chat, request.Completions} {
		switch cfg.Calibrate {
		case CalibrateOff:
			cals = append(cals, prompt.NewFixed(ep, prompt.Identity))
		case CalibrateUsage:
			cals = append(cals, prompt.NewOnline(ep, prompt.Identity))
		default:
			pctx, cancel := context.WithTimeout(ctx, cfg.ProbeTimeout)
			c, err := prompt.Calibrate(pctx, openai.BaseURL(sc.URL), sc.Model, ep, &prompt.Options{APIKey: sc.APIKey, Client: hc})
			cancel()
			if err != nil {
				fmt.Fprintf(cfg.Log, "prompt calibration for %s: %v; learning from usage.prompt_tokens instead\n", ep, err)
				c = prompt.NewOnline(ep, prompt.Identity)
			}
			cals = append(cals, c)
		}
	}
	return cals
}
