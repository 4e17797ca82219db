package crew

import (
	"context"
	"errors"
	"math/big"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzBreaker drives a Breaker through its Guard methods, Trip, Reset,
// State, Stats and the passing of time, with and without RampUp, and checks
// every answer against refBreaker, a plain model that keeps each job's
// permit and each probe slot's holder explicitly and moves through time
// eagerly: every admission and refusal, every RetryAfter to the nanosecond,
// the counters, and the OnStateChange calls in order.
func FuzzBreaker(f *testing.F) {
	f.Add([]byte{0, 1, 1, 3, 0, 0, 1, 0})
	f.Add([]byte{1, 2, 0, 0, 0, 3, 1, 0, 3, 2, 7, 2, 6, 30, 0, 0, 1, 0, 1, 1, 2, 0, 7, 2})
	f.Add([]byte{2, 1, 7, 0, 6, 20, 0, 0, 0, 5, 0, 1, 1, 6, 14, 7, 2, 0, 1, 2, 2, 1})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 3, 0, 3, 0, 6, 20, 0, 1, 0, 4, 0, 0, 1, 0, 2, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		synctest.Test(t, func(t *testing.T) { fuzzBreaker(t, data) })
	})
}

func fuzzBreaker(t *testing.T, data []byte) {
	threshold, max := int(data[0]%4)+1, int(data[1]%3)+1
	var ramp time.Duration
	if data[0]&4 != 0 {
		ramp = 400 * time.Millisecond
	}
	data = data[2:]
	const reset, probeTO, slow = time.Second, 700 * time.Millisecond, 300 * time.Millisecond
	const spread = reset / 2 // the default
	var got [][2]CircuitState
	b := NewBreaker(BreakerConfig{
		FailureThreshold: threshold, HalfOpenMaxRequests: max, ResetTimeout: reset,
		ProbeTimeout: probeTO, SlowCallThreshold: slow, RampUp: ramp,
		OnStateChange: func(from, to CircuitState) { got = append(got, [2]CircuitState{from, to}) },
	})
	m := &refBreaker{threshold: threshold, max: max, reset: reset, probeTO: probeTO, spread: spread, ramp: ramp}
	type job struct {
		started  bool
		admitted Ticket // Admit's ticket
		ticket   Ticket // Start's
	}
	var jobs []*job
	var live []int // indexes of jobs admitted and not finished
	next := func() int {
		if len(data) == 0 {
			return 0
		}
		v := int(data[0])
		data = data[1:]
		return v
	}
	pick := func(started bool) int { // a live job in the phase wanted, or -1
		var c []int
		for _, i := range live {
			if jobs[i].started == started {
				c = append(c, i)
			}
		}
		if len(c) == 0 {
			return -1
		}
		return c[next()%len(c)]
	}
	finish := func(i int) { live = slices.DeleteFunc(live, func(j int) bool { return j == i }) }
	ctx := context.Background()
	for step := 0; len(data) > 0; step++ {
		op := next() % 8
		switch op {
		case 0: // Admit
			adm, err := b.Admit(ctx)
			want := m.admit(len(jobs))
			checkRejection(t, step, "Admit", err, want)
			if err == nil {
				jobs = append(jobs, &job{admitted: adm})
				live = append(live, len(jobs)-1)
			}
		case 1: // Start
			i := pick(false)
			if i < 0 {
				continue
			}
			tk, err := b.Start(ctx, jobs[i].admitted)
			want, probe := m.start(i)
			checkRejection(t, step, "Start", err, want)
			if err != nil {
				finish(i)
				continue
			}
			require.Equal(t, probe, tk&3 == ticketProbe, "step %d: Start: a probe?", step)
			jobs[i].started, jobs[i].ticket = true, tk
		case 2, 3, 4: // Done: success, failure, cancelled
			i := pick(true)
			if i < 0 {
				continue
			}
			elapsed := time.Duration(next()%8) * 100 * time.Millisecond
			err := []error{nil, errors.New("boom"), context.Canceled}[op-2]
			b.Done(jobs[i].ticket, err, elapsed)
			m.done(i, op-2, elapsed > slow)
			finish(i)
		case 5: // Abandon
			i := pick(false)
			if i < 0 {
				continue
			}
			b.Abandon(jobs[i].admitted)
			m.abandon(i)
			finish(i)
		case 6: // time passes
			d := time.Duration(next()%32) * 50 * time.Millisecond
			time.Sleep(d)
			m.sleep(d)
		case 7:
			switch next() % 3 {
			case 0:
				b.Trip()
				m.trip()
			case 1:
				b.Reset()
				m.reset_()
			case 2:
				checkStats(t, step, b, m)
			}
		}
	}
	checkStats(t, -1, b, m)
	require.Equal(t, m.events, got, "OnStateChange calls")
}

// checkRejection compares a Guard method's error with the model's: nil, or
// an ErrCircuitOpen rejection after want.
func checkRejection(t *testing.T, step int, what string, err error, want *time.Duration) {
	t.Helper()
	require.Equal(t, want != nil, err != nil, "step %d: %s = %v; rejected according to the model?", step, what, err)
	if err == nil {
		return
	}
	re, ok := errors.AsType[*RejectedError](err)
	require.True(t, ok, "step %d: %s = %#v, not a *RejectedError", step, what, err)
	require.ErrorIs(t, err, ErrCircuitOpen)
	require.Equal(t, "breaker", re.Guard)
	require.Equal(t, *want, re.RetryAfter, "step %d: %s: RetryAfter", step, what)
	require.Positive(t, re.RetryAfter, "step %d: %s: RetryAfter", step, what)
}

// checkStats compares the Breaker's state and counters with the model's.
func checkStats(t *testing.T, step int, b *Breaker, m *refBreaker) {
	t.Helper()
	s := b.Stats()
	want := [...]any{m.state, m.state == StateClosed && m.ramping, m.trips, m.probes, m.probeOK, m.probeFailed, m.refusals, m.fails, m.calls, m.failures}
	got := [...]any{s.State, s.RampingUp, s.Trips, s.Probes, s.ProbeSuccesses, s.ProbeFailures, s.Refusals, s.ConsecutiveFailures, s.TotalCalls, s.TotalFailures}
	require.Equal(t, want, got, "step %d: state, ramping, trips, probes, probe successes and failures, refusals, consecutive failures, calls, failures", step)
	require.Equal(t, b.State(), s.State, "step %d: State and Stats disagree", step)
}

// refOffset is spreadOffset worked out with math/big: spread times the
// fraction (k × goldenStep mod 2^64) / 2^64, rounded down.
func refOffset(spread time.Duration, k uint64) time.Duration {
	two64 := new(big.Int).Lsh(big.NewInt(1), 64)
	x := new(big.Int).Mul(new(big.Int).SetUint64(k), new(big.Int).SetUint64(goldenStep))
	x.Mod(x, two64)
	x.Mul(x, big.NewInt(int64(spread)))
	x.Div(x, two64)
	return time.Duration(x.Int64())
}
