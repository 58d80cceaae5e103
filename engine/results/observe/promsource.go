package observe

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// promSource reads a target's series from Prometheus' query API, one
// instant query per sample, and hands them on as the points a scrape
// would give, each with its instance. Safe for concurrent use.
type promSource struct {
	q     PromQuery
	api   *promAPI
	query string // every wanted series of the role, within the selector

	mu        sync.Mutex
	instances []string // of the last answer, sorted
}

// newPromSource makes the query API client; t.APIKey, when set, is sent
// as a bearer token.
func newPromSource(t Target, q PromQuery) *promSource {
	client := &http.Client{Transport: &http.Transport{
		Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 2, IdleConnTimeout: time.Minute,
	}}
	return &promSource{q: q, api: &promAPI{base: q.API, token: t.APIKey, client: client}, query: promQuery(t.Role, q.Selector)}
}

// promQuery selects the role's wanted series (vLLM's for the server,
// DCGM's for GPUs, so a broad selector does not read one as the other)
// within the user's selector: one instant-vector selector, one query.
func promQuery(role, selector string) string {
	var names []string
	for _, n := range slices.Sorted(maps.Keys(wanted)) {
		if slices.Contains(histograms, n) || n == legacyITL {
			continue // a classic histogram is stored as its _sum, _count and _bucket series
		}
		if strings.HasPrefix(n, "DCGM_") == (role == "gpu") {
			names = append(names, n)
		}
	}
	inner := strings.TrimSpace(selector[1 : len(selector)-1])
	m := `__name__=~"` + strings.Join(names, "|") + `"`
	if inner != "" {
		m += "," + inner
	}
	return "{" + m + "}"
}

// points asks for the series at instant at.
func (p *promSource) points(ctx context.Context, at time.Time) ([]point, error) {
	vec, err := p.api.instant(ctx, p.query, at)
	if err != nil {
		return nil, p.explain(err)
	}
	if len(vec) == 0 {
		return nil, fmt.Errorf("no series match selector %s at Prometheus %s (check the labels as Prometheus stores them, and that it scrapes the deployment)", p.q.Selector, p.q.API)
	}
	byInstance := map[string][]point{}
	for _, smp := range vec {
		if math.IsNaN(smp.value) || math.IsInf(smp.value, 0) {
			continue // as parse skips them
		}
		pt := point{name: smp.labels["__name__"], value: smp.value}
		pt.labels, pt.uuid, pt.gpu = canonLabels(labelPairs(smp.labels))
		pt.instance = p.instanceOf(smp.labels)
		byInstance[pt.instance] = append(byInstance[pt.instance], pt)
	}
	var pts []point
	instances := slices.Sorted(maps.Keys(byInstance))
	for _, inst := range instances {
		pts = append(pts, preferCurrent(byInstance[inst])...)
	}
	p.mu.Lock()
	p.instances = instances
	p.mu.Unlock()
	return pts, nil
}

// instanceOf names the instance a series belongs to.
func (p *promSource) instanceOf(labels map[string]string) string {
	if inst := labels[p.q.By]; inst != "" {
		return inst
	}
	return "(no " + p.q.By + " label)"
}

// scrapedAfter reports whether Prometheus holds a sample scraped after
// end of every instance the last answer had: it asks for the selector's
// raw samples since end (a range vector) and finds each instance's.
func (p *promSource) scrapedAfter(ctx context.Context, end time.Time) (bool, error) {
	p.mu.Lock()
	want := slices.Clone(p.instances)
	p.mu.Unlock()
	since := time.Since(end).Milliseconds() + 1
	vec, err := p.api.instant(ctx, fmt.Sprintf("%s[%dms]", p.query, since), time.Now())
	if err != nil {
		return false, p.explain(err)
	}
	fresh := map[string]bool{}
	for _, s := range vec {
		if s.at.After(end) {
			fresh[p.instanceOf(s.labels)] = true
		}
	}
	for _, inst := range want {
		if !fresh[inst] {
			return false, nil
		}
	}
	return true, nil
}

// awaitScrapesAfter waits until Prometheus holds a sample of every
// instance scraped after end, at most FinalWait: the final sample then
// counts every request of the run.
func (p *promSource) awaitScrapesAfter(end time.Time) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.q.FinalWait)
	defer cancel()
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	var err error
	for {
		var done bool
		if done, err = p.scrapedAfter(ctx, end); done {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			return fmt.Errorf("Prometheus had not scraped every instance after the run's end within final_wait=%s: the server's totals may miss the run's last requests", p.q.FinalWait)
		case <-poll.C: // polling another process
		}
	}
}

// explain passes on Prometheus' own message (a bad selector is bad_data),
// or what else went wrong, with the Prometheus's address.
func (p *promSource) explain(err error) error {
	var pe *promError
	if errors.As(err, &pe) {
		return fmt.Errorf("Prometheus %s rejected the query for selector %s (%s): %s: %s", p.q.API, p.q.Selector, pe.Status, pe.Type, pe.Msg)
	}
	return fmt.Errorf("Prometheus %s: %w", p.q.API, err)
}

func (p *promSource) close() { p.api.client.CloseIdleConnections() }

// labelPairs are a series' labels without its name.
func labelPairs(m map[string]string) []*dto.LabelPair {
	ls := make([]*dto.LabelPair, 0, len(m))
	for k, v := range m {
		if k == "__name__" {
			continue
		}
		ls = append(ls, &dto.LabelPair{Name: new(k), Value: new(v)})
	}
	return ls
}
