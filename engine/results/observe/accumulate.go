package observe

import (
	"encoding/json"
	"strconv"
	"time"
)

// Sample is what one scrape of every target showed: the gauges at that
// moment and, for counters, what happened since the previous scrape. A
// Sample is immutable once published. Sums run over every label set (model
// replicas, data-parallel engines, GPUs); a field is unknown when no target
// exports its series (or, for interval figures, on the first scrape).
type Sample struct {
	T  time.Duration // since the run's epoch; the baseline scrape may be < 0
	DT time.Duration // since the previous scrape; 0 on the first

	Targets, Failed int // targets that answered / failed this time

	Running, Waiting    Value // requests, summed over engines
	KVUsage, KVUsageMax Value // fraction 0..1: mean and max over engines

	// Counter increases since the previous scrape.
	PromptTokens, GenerationTokens  Value
	PromptTokensPerS, GenTokensPerS Value
	PrefixQueries, PrefixHits       Value // tokens
	PrefixHitRate                   Value // hits / queries
	Preemptions, RequestsSucceeded  Value
	// Server-side means over the requests the interval's histogram
	// observations cover: Δ_sum / Δ_count, in seconds.
	TTFT, ITL, E2E, QueueTime Value

	GPUs         int   // GPUs seen (DCGM series with a UUID, or distinct label sets)
	PowerW       Value // summed over GPUs
	GPUUtilPct   Value // mean over GPUs
	FBUsedMiB    Value // summed over GPUs
	EnergyJ      Value // since the previous scrape, summed over GPUs
	JPerGenToken Value // EnergyJ / GenerationTokens
}

// MarshalJSON writes a server.jsonl line (keys in docs/metrics.md).
func (s *Sample) MarshalJSON() ([]byte, error) {
	ms := func(v Value) Value { return v.scale(1e3) }
	return json.Marshal(struct {
		T                 float64 `json:"t_s"`
		DT                float64 `json:"dt_s"`
		Targets           int     `json:"targets_ok"`
		Failed            int     `json:"targets_failed"`
		Running           Value   `json:"running"`
		Waiting           Value   `json:"waiting"`
		KVUsage           Value   `json:"kv_cache_usage"`
		KVUsageMax        Value   `json:"kv_cache_usage_max"`
		PromptTokens      Value   `json:"prompt_tokens"`
		GenerationTokens  Value   `json:"generation_tokens"`
		PromptTokensPerS  Value   `json:"prompt_tokens_per_s"`
		GenTokensPerS     Value   `json:"generation_tokens_per_s"`
		PrefixQueries     Value   `json:"prefix_cache_queries"`
		PrefixHits        Value   `json:"prefix_cache_hits"`
		PrefixHitRate     Value   `json:"prefix_cache_hit_rate"`
		Preemptions       Value   `json:"preemptions"`
		RequestsSucceeded Value   `json:"requests_succeeded"`
		TTFT              Value   `json:"mean_ttft_ms"`
		ITL               Value   `json:"mean_itl_ms"`
		E2E               Value   `json:"mean_e2el_ms"`
		QueueTime         Value   `json:"mean_queue_time_ms"`
		GPUs              int     `json:"gpus"`
		PowerW            Value   `json:"power_w"`
		GPUUtilPct        Value   `json:"gpu_util_pct"`
		FBUsedMiB         Value   `json:"fb_used_mib"`
		EnergyJ           Value   `json:"energy_j"`
		JPerGenToken      Value   `json:"j_per_generation_token"`
	}{
		s.T.Seconds(), s.DT.Seconds(), s.Targets, s.Failed,
		s.Running, s.Waiting, s.KVUsage, s.KVUsageMax,
		s.PromptTokens, s.GenerationTokens, s.PromptTokensPerS, s.GenTokensPerS,
		s.PrefixQueries, s.PrefixHits, s.PrefixHitRate, s.Preemptions, s.RequestsSucceeded,
		ms(s.TTFT), ms(s.ITL), ms(s.E2E), ms(s.QueueTime),
		s.GPUs, s.PowerW, s.GPUUtilPct, s.FBUsedMiB, s.EnergyJ, s.JPerGenToken,
	})
}

// counterNames are the cumulative series whose increases are tracked.
var counterNames = func() []string {
	n := []string{mPromptTok, mGenTok, mPrefixQuery, mPrefixHit, mPreemptions, mSuccess}
	for _, h := range histograms {
		n = append(n, h+"_sum", h+"_count")
	}
	return n
}()

var isCounter = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range counterNames {
		m[n] = true
	}
	return m
}()

// scrape is one target's answer in one round.
type scrape struct {
	target int
	ok     bool
	points []point
}

// phase says which scrape of the run a round is: gauges are averaged over
// the scrapes taken while the run went, not the idle baseline and the
// final one after it drained.
type phase int

const (
	phaseBaseline phase = iota
	phaseTick
	phaseFinal
)

type seriesKey struct {
	target       int
	name, labels string
}

// gpuState follows one GPU across scrapes.
type gpuState struct {
	useCounter   bool // once its energy counter is seen, power is not integrated
	lastE        float64
	hasE         bool
	lastP        float64
	lastT        time.Duration
	hasP         bool
	counted      bool // contributed energy
	countedPower bool // ... by integrating power
}

// gpuReading is one GPU's series in one round.
type gpuReading struct {
	target                  int
	instance                string
	power, energy, util, fb float64
	hasP, hasE, hasU, hasF  bool
}

// accumulator turns rounds of scrapes into Samples and run totals. It is
// pure (no clock, no I/O) and not safe for concurrent use: the Observer's
// loop owns it.
type accumulator struct {
	counters map[seriesKey]float64
	scraped  map[int]bool // targets with a successful scrape before this round
	gpus     map[string]*gpuState

	prevT   time.Duration
	hasPrev bool
	first   time.Duration // time of the first round with any answer
	last    time.Duration

	// Run totals: the server's over every instance, and each instance's.
	rounds, answered int64
	total            *serverTotals
	instances        map[string]*serverTotals
	power, util, fb  gaugeAgg
	energyJ          float64
	energyOK         bool
	instanceEnergy   map[string]*instanceEnergy
	energyFirst      time.Duration // first and last round with GPU data
	energyLast       time.Duration
	energyHasSpan    bool
	// intervalPowerMax is the highest mean power of one scrape interval,
	// from the energy counted in it: the sampled power gauge misses the
	// peaks between scrapes that the energy counter integrates, so without
	// it the run's mean power could exceed its "maximum".
	intervalPowerMax gaugeAgg
	maxGPUs          int
}

func newAccumulator() *accumulator {
	return &accumulator{
		counters: map[seriesKey]float64{}, scraped: map[int]bool{}, gpus: map[string]*gpuState{},
		total: newServerTotals(), instances: map[string]*serverTotals{}, instanceEnergy: map[string]*instanceEnergy{},
	}
}

// add folds one round (every target's scrape at time t) into the totals
// and returns its Sample.
func (a *accumulator) add(t time.Duration, ph phase, round []scrape) *Sample {
	s := &Sample{T: t}
	if a.hasPrev {
		s.DT = t - a.prevT
	}
	rt := &roundTotals{total: newServerRound(), inst: map[string]*serverRound{}, tick: map[string]*gpuReading{}}
	for _, sc := range round {
		if !sc.ok {
			s.Failed++
			continue
		}
		s.Targets++
		a.readScrape(rt, sc)
	}
	if s.Targets > 0 {
		a.answered++
		if a.answered == 1 {
			a.first = t
		}
		a.last = t
	}
	a.rounds++

	rt.total.fill(s)
	a.addGPUs(s, t, rt.tick, rt.gpuOrder)
	s.JPerGenToken = ratio(s.EnergyJ, s.GenerationTokens)
	a.keep(s, ph, rt)
	if s.Targets > 0 {
		a.prevT, a.hasPrev = t, true
	}
	return s
}

// roundTotals is what one round's scrapes add up to, before it becomes a
// Sample: the server's figures over every instance and per instance, and
// the GPUs seen.
type roundTotals struct {
	total    *serverRound
	inst     map[string]*serverRound
	tick     map[string]*gpuReading
	gpuOrder []string
}

// serverRound is the server's counter deltas and summed gauges in one
// round, over every instance or over one.
type serverRound struct {
	delta                   map[string]float64
	deltaOK                 map[string]bool
	running, waiting        float64
	kvSum, kvMax            float64
	nRunning, nWaiting, nKV int
}

func newServerRound() *serverRound {
	return &serverRound{delta: map[string]float64{}, deltaOK: map[string]bool{}}
}

// of returns the round's figures of one instance.
func (rt *roundTotals) of(instance string) *serverRound {
	r := rt.inst[instance]
	if r == nil {
		r = newServerRound()
		rt.inst[instance] = r
	}
	return r
}

// gauge adds one engine's reading of a server gauge.
func (r *serverRound) gauge(pt point) {
	switch pt.name {
	case mRunning:
		r.running += pt.value
		r.nRunning++
	case mWaiting:
		r.waiting += pt.value
		r.nWaiting++
	case mKVUsage:
		if r.nKV == 0 || pt.value > r.kvMax {
			r.kvMax = pt.value
		}
		r.kvSum += pt.value
		r.nKV++
	}
}

func (r *serverRound) addDelta(name string, d float64) {
	r.delta[name] += d
	r.deltaOK[name] = true
}

// readScrape adds one target's answer to the round.
func (a *accumulator) readScrape(rt *roundTotals, sc scrape) {
	seenBefore := a.scraped[sc.target]
	a.scraped[sc.target] = true
	for _, pt := range sc.points {
		switch {
		case isCounter[pt.name]:
			if d, ok := a.counterDelta(sc.target, pt, seenBefore); ok {
				rt.total.addDelta(pt.name, d)
				rt.of(pt.instance).addDelta(pt.name, d)
			}
		case pt.name == mRunning || pt.name == mWaiting || pt.name == mKVUsage:
			rt.total.gauge(pt)
			rt.of(pt.instance).gauge(pt)
		case isGPUField(pt.name):
			rt.gpuPoint(sc.target, pt)
		}
	}
}

// counterDelta returns how far a counter moved since its last scrape,
// false when this is its baseline. A series of a Prometheus target is
// keyed by every label, instance included, so an instance that appears
// after the target's first answer (a replica started during the run) is
// a series born since and counts from 0.
func (a *accumulator) counterDelta(target int, pt point, seenBefore bool) (float64, bool) {
	k := seriesKey{target, pt.name, pt.labels}
	last, seen := a.counters[k]
	a.counters[k] = pt.value
	switch {
	case seen && pt.value >= last:
		return pt.value - last, true
	case seen: // reset (server restart): it counted up from 0 since
		return pt.value, true
	case seenBefore: // a series born since the last scrape of its target
		return pt.value, true
	}
	return 0, false // the target's first answer is the baseline
}

// isGPUField reports whether name is one of the DCGM fields read per GPU.
func isGPUField(name string) bool {
	return name == mPower || name == mEnergy || name == mGPUUtil || name == mFBUsed
}

// gpuPoint records one GPU field of the round.
func (rt *roundTotals) gpuPoint(target int, pt point) {
	// A GPU is its UUID where the exporter gives one, so the same GPU
	// reached through two endpoints counts once.
	key := pt.uuid
	if key == "" {
		key = seriesKey{target: target, labels: pt.labels}.String()
	}
	r := rt.tick[key]
	if r == nil {
		r = &gpuReading{target: target, instance: pt.instance}
		rt.tick[key] = r
		rt.gpuOrder = append(rt.gpuOrder, key)
	}
	if r.target != target {
		return
	}
	// Device-level fields repeat per MIG instance under one UUID: one
	// value per GPU, not a sum.
	switch pt.name {
	case mPower:
		r.power, r.hasP = pt.value, true
	case mEnergy:
		r.energy, r.hasE = pt.value, true
	case mGPUUtil:
		r.util, r.hasU = pt.value, true
	case mFBUsed:
		r.fb, r.hasF = pt.value, true
	}
}

// fill sets the sample's server figures: gauges, counter deltas and the
// rates and means made of them.
func (rt *serverRound) fill(s *Sample) {
	if rt.nRunning > 0 {
		s.Running = known(rt.running)
	}
	if rt.nWaiting > 0 {
		s.Waiting = known(rt.waiting)
	}
	if rt.nKV > 0 {
		s.KVUsage, s.KVUsageMax = known(rt.kvSum/float64(rt.nKV)), known(rt.kvMax)
	}
	d := func(name string) Value {
		if !rt.deltaOK[name] {
			return Value{}
		}
		return known(rt.delta[name])
	}
	s.PromptTokens, s.GenerationTokens = d(mPromptTok), d(mGenTok)
	if sec := s.DT.Seconds(); sec > 0 {
		s.PromptTokensPerS, s.GenTokensPerS = s.PromptTokens.scale(1/sec), s.GenerationTokens.scale(1/sec)
	}
	s.PrefixQueries, s.PrefixHits = d(mPrefixQuery), d(mPrefixHit)
	s.PrefixHitRate = ratio(s.PrefixHits, s.PrefixQueries)
	s.Preemptions, s.RequestsSucceeded = d(mPreemptions), d(mSuccess)
	s.TTFT = ratio(d(hTTFT+"_sum"), d(hTTFT+"_count"))
	s.ITL = ratio(d(hITL+"_sum"), d(hITL+"_count"))
	s.E2E = ratio(d(hE2E+"_sum"), d(hE2E+"_count"))
	s.QueueTime = ratio(d(hQueue+"_sum"), d(hQueue+"_count"))
}

// keep adds the sample to the run's totals, and each instance's figures
// to its own.
func (a *accumulator) keep(s *Sample, ph phase, rt *roundTotals) {
	a.total.keep(s, ph, rt.total)
	for name, r := range rt.inst {
		if name == "" {
			continue // a test's scrape without an instance
		}
		is := &Sample{T: s.T, DT: s.DT}
		r.fill(is)
		tot := a.instances[name]
		if tot == nil {
			tot = newServerTotals()
			a.instances[name] = tot
		}
		tot.keep(is, ph, r)
	}
	a.power.add(s.PowerW)
	a.util.add(s.GPUUtilPct)
	a.fb.add(s.FBUsedMiB)
}

// addGPUs computes the round's power and energy. Energy comes from each
// GPU's energy counter (reset-aware) when it has one, else from the
// trapezoid of its power between this scrape and its previous one.
func (a *accumulator) addGPUs(s *Sample, t time.Duration, tick map[string]*gpuReading, order []string) {
	var power, util, fb, energy float64
	var nP, nU, nF int
	energyOK := false
	for _, key := range order {
		r := tick[key]
		g := a.gpus[key]
		if g == nil {
			g = &gpuState{}
			a.gpus[key] = g
		}
		ie := a.energyOf(r.instance)
		ie.gpus[key] = true
		if r.hasE {
			if g.hasE {
				de := r.energy - g.lastE
				if de < 0 { // the counter restarted (driver reload, reboot)
					de = r.energy
				}
				energy += de / 1000 // mJ
				ie.add(de / 1000)
				energyOK, g.counted = true, true
			}
			g.useCounter, g.lastE, g.hasE = true, r.energy, true
		}
		if r.hasP {
			if !g.useCounter && g.hasP && t > g.lastT {
				e := (r.power + g.lastP) / 2 * (t - g.lastT).Seconds()
				energy += e
				ie.add(e)
				energyOK, g.counted, g.countedPower = true, true, true
			}
			g.lastP, g.lastT, g.hasP = r.power, t, true
			power += r.power
			nP++
		}
		if r.hasU {
			util += r.util
			nU++
		}
		if r.hasF {
			fb += r.fb
			nF++
		}
	}
	s.GPUs = len(order)
	a.maxGPUs = max(a.maxGPUs, s.GPUs)
	if nP > 0 {
		s.PowerW = known(power)
	}
	if nU > 0 {
		s.GPUUtilPct = known(util / float64(nU))
	}
	if nF > 0 {
		s.FBUsedMiB = known(fb)
	}
	if energyOK {
		s.EnergyJ = known(energy)
		a.energyJ += energy
		a.energyOK = true
		if a.energyHasSpan && t > a.energyLast {
			a.intervalPowerMax.add(known(energy / (t - a.energyLast).Seconds()))
		}
	}
	if len(order) > 0 {
		if !a.energyHasSpan {
			a.energyFirst, a.energyHasSpan = t, true
		}
		a.energyLast = t
	}
}

func (k seriesKey) String() string {
	return "target " + strconv.Itoa(k.target) + "{" + k.labels + "}"
}

// energySource names where the run's energy came from.
func (a *accumulator) energySource() string {
	var counter, power bool
	for _, g := range a.gpus {
		if !g.counted {
			continue
		}
		if g.countedPower {
			power = true
		} else {
			counter = true
		}
	}
	switch {
	case counter && power:
		return "mixed"
	case counter:
		return "dcgm_energy_counter"
	case power:
		return "integrated_power"
	}
	return "none"
}
