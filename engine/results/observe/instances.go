package observe

import (
	"maps"
	"slices"
)

// serverTotals is the server's figures over the run: counter increases
// and gauge distributions, over every instance or over one.
type serverTotals struct {
	delta            map[string]float64
	deltaOK          map[string]bool
	running, waiting [2]gaugeAgg // [0] run scrapes (phaseTick), [1] every scrape
	kv, kvMax        [2]gaugeAgg
}

func newServerTotals() *serverTotals {
	return &serverTotals{delta: map[string]float64{}, deltaOK: map[string]bool{}}
}

// keep adds one round's figures (r, and s filled from it): [0] holds the
// scrapes during the run (phaseTick), [1] every scrape.
func (st *serverTotals) keep(s *Sample, ph phase, r *serverRound) {
	for name, v := range r.delta {
		st.delta[name] += v
	}
	for name := range r.deltaOK {
		st.deltaOK[name] = true
	}
	for i := range 2 {
		if i == 0 && ph != phaseTick {
			continue
		}
		st.running[i].add(s.Running)
		st.waiting[i].add(s.Waiting)
		st.kv[i].add(s.KVUsage)
		st.kvMax[i].add(s.KVUsageMax)
	}
}

// ServerFigures is what the server counted over the run, for every
// instance together or for one: counter increases (summed over label
// sets), server-side means (seconds) and the gauges' mean and max.
type ServerFigures struct {
	PromptTokens, GenerationTokens Value
	PrefixQueries, PrefixHits      Value
	Preemptions, RequestsSucceeded Value
	TTFT, ITL, E2E, QueueTime      Value // server means, seconds
	TTFTCount, ITLCount            Value
	E2ECount, QueueCount           Value

	MeanRunning, MaxRunning Value
	MeanWaiting, MaxWaiting Value
	MeanKVUsage, MaxKVUsage Value
}

// figures reads the totals out.
func (st *serverTotals) figures() ServerFigures {
	d := func(name string) Value {
		if !st.deltaOK[name] {
			return Value{}
		}
		return known(st.delta[name])
	}
	var f ServerFigures
	f.PromptTokens, f.GenerationTokens = d(mPromptTok), d(mGenTok)
	f.PrefixQueries, f.PrefixHits = d(mPrefixQuery), d(mPrefixHit)
	f.Preemptions, f.RequestsSucceeded = d(mPreemptions), d(mSuccess)
	f.TTFT, f.TTFTCount = ratio(d(hTTFT+"_sum"), d(hTTFT+"_count")), d(hTTFT+"_count")
	f.ITL, f.ITLCount = ratio(d(hITL+"_sum"), d(hITL+"_count")), d(hITL+"_count")
	f.E2E, f.E2ECount = ratio(d(hE2E+"_sum"), d(hE2E+"_count")), d(hE2E+"_count")
	f.QueueTime, f.QueueCount = ratio(d(hQueue+"_sum"), d(hQueue+"_count")), d(hQueue+"_count")

	// Gauges over the scrapes taken while the run went; a run shorter than
	// one interval has none, and then every scrape counts.
	i := 0
	if st.running[0].n == 0 && st.kv[0].n == 0 {
		i = 1
	}
	f.MeanRunning, f.MaxRunning = st.running[i].mean(), st.running[i].maximum()
	f.MeanWaiting, f.MaxWaiting = st.waiting[i].mean(), st.waiting[i].maximum()
	f.MeanKVUsage, f.MaxKVUsage = st.kv[i].mean(), st.kvMax[i].maximum()
	return f
}

// instanceEnergy is one instance's GPUs and the energy they used.
type instanceEnergy struct {
	gpus     map[string]bool
	energyJ  float64
	energyOK bool
}

func (ie *instanceEnergy) add(j float64) { ie.energyJ, ie.energyOK = ie.energyJ+j, true }

// energyOf returns the energy account of one instance.
func (a *accumulator) energyOf(instance string) *instanceEnergy {
	ie := a.instanceEnergy[instance]
	if ie == nil {
		ie = &instanceEnergy{gpus: map[string]bool{}}
		a.instanceEnergy[instance] = ie
	}
	return ie
}

// InstanceFigures is one instance's share of the run.
type InstanceFigures struct {
	Instance string
	ServerFigures
}

// InstanceEnergy is one instance's GPUs' share of the run's energy.
type InstanceEnergy struct {
	Instance string
	GPUs     int
	EnergyJ  Value
}

// perInstance returns the instances' figures, sorted by instance.
func (a *accumulator) perInstance() ([]InstanceFigures, []InstanceEnergy) {
	var sv []InstanceFigures
	for _, name := range slices.Sorted(maps.Keys(a.instances)) {
		sv = append(sv, InstanceFigures{Instance: name, ServerFigures: a.instances[name].figures()})
	}
	var en []InstanceEnergy
	for _, name := range slices.Sorted(maps.Keys(a.instanceEnergy)) {
		if name == "" {
			continue
		}
		ie := a.instanceEnergy[name]
		e := InstanceEnergy{Instance: name, GPUs: len(ie.gpus)}
		if ie.energyOK {
			e.EnergyJ = known(ie.energyJ)
		}
		en = append(en, e)
	}
	return sv, en
}
