package crewprom_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
	"github.com/crew-go/crew/crewprom"
)

func TestBreakerCollectorSeries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		scenario(t, reg)
		// A succeeded, B failed and opened the circuit at t=2.25s for a
		// minute; C (at start) and D (at Submit) were refused.
		want := `
# HELP crew_breaker_state Circuit state: 1 for the state the circuit is in, 0 for the others.
# TYPE crew_breaker_state gauge
crew_breaker_state{breaker="downstream",state="closed"} 0
crew_breaker_state{breaker="downstream",state="half-open"} 0
crew_breaker_state{breaker="downstream",state="open"} 1
# HELP crew_breaker_ramping_up 1 while the circuit is closed and ramping up, else 0.
# TYPE crew_breaker_ramping_up gauge
crew_breaker_ramping_up{breaker="downstream"} 0
# HELP crew_breaker_state_changed_timestamp_seconds When the current state began, in seconds since the Unix epoch.
# TYPE crew_breaker_state_changed_timestamp_seconds gauge
crew_breaker_state_changed_timestamp_seconds{breaker="downstream"} 946684802.25
# HELP crew_breaker_open_until_timestamp_seconds While open, when the circuit turns half-open, in seconds since the Unix epoch; 0 otherwise.
# TYPE crew_breaker_open_until_timestamp_seconds gauge
crew_breaker_open_until_timestamp_seconds{breaker="downstream"} 946684862.25
# HELP crew_breaker_window_calls Calls in the window that decides the next change of state.
# TYPE crew_breaker_window_calls gauge
crew_breaker_window_calls{breaker="downstream"} 0
# HELP crew_breaker_window_failures Failures in the window that decides the next change of state.
# TYPE crew_breaker_window_failures gauge
crew_breaker_window_failures{breaker="downstream"} 0
# HELP crew_breaker_consecutive_failures The current run of failures while closed.
# TYPE crew_breaker_consecutive_failures gauge
crew_breaker_consecutive_failures{breaker="downstream"} 0
# HELP crew_breaker_calls_total Calls whose outcome the breaker counted, probes included.
# TYPE crew_breaker_calls_total counter
crew_breaker_calls_total{breaker="downstream"} 2
# HELP crew_breaker_failures_total Counted calls that were failures.
# TYPE crew_breaker_failures_total counter
crew_breaker_failures_total{breaker="downstream"} 1
# HELP crew_breaker_trips_total Times the circuit opened.
# TYPE crew_breaker_trips_total counter
crew_breaker_trips_total{breaker="downstream"} 1
# HELP crew_breaker_probes_total Half-open probe slots handed out.
# TYPE crew_breaker_probes_total counter
crew_breaker_probes_total{breaker="downstream"} 0
# HELP crew_breaker_probe_successes_total Probes that succeeded.
# TYPE crew_breaker_probe_successes_total counter
crew_breaker_probe_successes_total{breaker="downstream"} 0
# HELP crew_breaker_probe_failures_total Probes that failed.
# TYPE crew_breaker_probe_failures_total counter
crew_breaker_probe_failures_total{breaker="downstream"} 0
# HELP crew_breaker_refusals_total Calls the breaker refused, at Submit or at start.
# TYPE crew_breaker_refusals_total counter
crew_breaker_refusals_total{breaker="downstream"} 2
# HELP crew_breaker_callback_panics_total Panics recovered from IsFailure and OnStateChange.
# TYPE crew_breaker_callback_panics_total counter
crew_breaker_callback_panics_total{breaker="downstream"} 0
`
		var names []string
		for line := range strings.Lines(want) {
			if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
				names = append(names, strings.Fields(name)[0])
			}
		}
		assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), names...))
		assert.Len(t, lines(scrape(t, reg), "crew_breaker_"), len(lines(want, "crew_breaker_")),
			"every breaker series is in want")
	})
}

// TestBreakerCollectorFollowsTheState: each state has its series set to
// 1 in turn, as the breaker's own clock moves it, with no call in between.
func TestBreakerCollectorFollowsTheState(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := crew.NewBreaker(crew.BreakerConfig{ResetTimeout: time.Minute, HalfOpenMaxRequests: 1})
		c := crewprom.NewBreakerCollector("b", b.Stats)
		states := func() []string { return stateLines(t, c) }
		assert.Equal(t, []string{`closed 1`, `half-open 0`, `open 0`}, states())
		b.Trip()
		assert.Equal(t, []string{`closed 0`, `half-open 0`, `open 1`}, states())
		time.Sleep(time.Minute)
		assert.Equal(t, []string{`closed 0`, `half-open 1`, `open 0`}, states())
		assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(`
# HELP crew_breaker_open_until_timestamp_seconds While open, when the circuit turns half-open, in seconds since the Unix epoch; 0 otherwise.
# TYPE crew_breaker_open_until_timestamp_seconds gauge
crew_breaker_open_until_timestamp_seconds{breaker="b"} 0
`), "crew_breaker_open_until_timestamp_seconds"), "not open: no time to turn half-open")
		require.NoError(t, b.Execute(t.Context(), func(context.Context) error { return nil }))
		assert.Equal(t, []string{`closed 1`, `half-open 0`, `open 0`}, states())
		assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(`
# HELP crew_breaker_probe_successes_total Probes that succeeded.
# TYPE crew_breaker_probe_successes_total counter
crew_breaker_probe_successes_total{breaker="b"} 1
`), "crew_breaker_probe_successes_total"))
	})
}

// stateLines returns crew_breaker_state's series from c as "state value",
// in the registry's order (by label value).
func stateLines(t *testing.T, c prometheus.Collector) []string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	var out []string
	for _, line := range lines(scrape(t, reg), "crew_breaker_state{") {
		_, rest, _ := strings.Cut(line, `state="`)
		state, value, _ := strings.Cut(rest, `"} `)
		out = append(out, state+" "+value)
	}
	return out
}
