package crewprom

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crew-go/crew"
)

// BreakerCollector exports a circuit breaker's crew.BreakerStats, read
// when the registry is scraped. Create it with NewBreakerCollector. It is
// a prometheus.Collector and is safe for concurrent use.
type BreakerCollector struct {
	c statsCollector[crew.BreakerStats]
}

// breakerStates are the states crew_breaker_state has a series for, in
// the order they are sent.
var breakerStates = [...]crew.CircuitState{crew.StateClosed, crew.StateOpen, crew.StateHalfOpen}

// NewBreakerCollector returns a collector of the BreakerStats that stats
// returns (a *crew.Breaker's Stats method), with the label
// breaker=breaker:
//
//   - crew_breaker_state{state} (gauge): one series per state, "closed",
//     "open" and "half-open" (crew.CircuitState's String): 1 for the state
//     the circuit is in, 0 for the others.
//   - crew_breaker_ramping_up (gauge): 1 while closed and ramping up
//     (crew.BreakerConfig.RampUp), else 0.
//   - crew_breaker_state_changed_timestamp_seconds (gauge): when the
//     current state began, in seconds since the Unix epoch.
//   - crew_breaker_open_until_timestamp_seconds (gauge): while open, when
//     the circuit turns half-open; 0 otherwise.
//   - crew_breaker_window_calls, crew_breaker_window_failures (gauges):
//     the calls and failures in the window that decides the next change of
//     state; crew_breaker_consecutive_failures (gauge): the current run of
//     failures while closed.
//   - crew_breaker_calls_total, crew_breaker_failures_total (counters):
//     calls counted (probes included) and, of them, failures.
//   - crew_breaker_trips_total (counter): times the circuit opened.
//   - crew_breaker_probes_total, crew_breaker_probe_successes_total,
//     crew_breaker_probe_failures_total (counters): half-open probe slots
//     handed out, and the probes that succeeded and failed.
//   - crew_breaker_refusals_total (counter): calls the breaker refused, at
//     Submit or at start.
//   - crew_breaker_callback_panics_total (counter): panics recovered from
//     IsFailure and OnStateChange.
//
// Each scrape calls stats once; a panic in it fails that scrape with the
// panic as its error.
//
// NewBreakerCollector panics if breaker is empty or not valid UTF-8, or if
// stats is nil.
func NewBreakerCollector(breaker string, stats func() crew.BreakerStats) *BreakerCollector {
	checkName("NewBreakerCollector", "breaker", breaker)
	checkStats("NewBreakerCollector", stats)
	type bs = crew.BreakerStats
	s := func(name, help string, kind prometheus.ValueType, v func(*bs) float64) series[bs] {
		return newSeries("breaker_"+name, help, kind, "breaker", breaker, v)
	}
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	state := prometheus.NewDesc("crew_breaker_state",
		"Circuit state: 1 for the state the circuit is in, 0 for the others.",
		[]string{"state"}, prometheus.Labels{"breaker": breaker})
	c := statsCollector[bs]{stats: stats, series: []series[bs]{
		s("ramping_up", "1 while the circuit is closed and ramping up, else 0.", gauge,
			func(s *bs) float64 { return flag(s.RampingUp) }),
		s("state_changed_timestamp_seconds", "When the current state began, in seconds since the Unix epoch.", gauge,
			func(s *bs) float64 { return unixSeconds(s.Since) }),
		s("open_until_timestamp_seconds", "While open, when the circuit turns half-open, in seconds since the Unix epoch; 0 otherwise.", gauge,
			func(s *bs) float64 { return unixSeconds(s.OpenUntil) }),
		s("window_calls", "Calls in the window that decides the next change of state.", gauge,
			func(s *bs) float64 { return float64(s.Calls) }),
		s("window_failures", "Failures in the window that decides the next change of state.", gauge,
			func(s *bs) float64 { return float64(s.Failures) }),
		s("consecutive_failures", "The current run of failures while closed.", gauge,
			func(s *bs) float64 { return float64(s.ConsecutiveFailures) }),
		s("calls_total", "Calls whose outcome the breaker counted, probes included.", counter,
			func(s *bs) float64 { return float64(s.TotalCalls) }),
		s("failures_total", "Counted calls that were failures.", counter,
			func(s *bs) float64 { return float64(s.TotalFailures) }),
		s("trips_total", "Times the circuit opened.", counter,
			func(s *bs) float64 { return float64(s.Trips) }),
		s("probes_total", "Half-open probe slots handed out.", counter,
			func(s *bs) float64 { return float64(s.Probes) }),
		s("probe_successes_total", "Probes that succeeded.", counter,
			func(s *bs) float64 { return float64(s.ProbeSuccesses) }),
		s("probe_failures_total", "Probes that failed.", counter,
			func(s *bs) float64 { return float64(s.ProbeFailures) }),
		s("refusals_total", "Calls the breaker refused, at Submit or at start.", counter,
			func(s *bs) float64 { return float64(s.Refusals) }),
		s("callback_panics_total", "Panics recovered from IsFailure and OnStateChange.", counter,
			func(s *bs) float64 { return float64(s.CallbackPanics) }),
	}}
	c.extraDescs = []*prometheus.Desc{state}
	c.extra = func(s *bs, ch chan<- prometheus.Metric) {
		for _, st := range breakerStates {
			ch <- prometheus.MustNewConstMetric(state, gauge, flag(s.State == st), st.String())
		}
	}
	return &BreakerCollector{c: c}
}

// Describe implements prometheus.Collector.
func (b *BreakerCollector) Describe(ch chan<- *prometheus.Desc) { b.c.describe(ch) }

// Collect implements prometheus.Collector: it calls the stats func once.
func (b *BreakerCollector) Collect(ch chan<- prometheus.Metric) { b.c.collect(ch) }

// flag is 1 for true, 0 for false.
func flag(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// unixSeconds is t in seconds since the Unix epoch, 0 for the zero time.
func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}
