package crewredis

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/crew-go/crew"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errDown = errors.New("downstream failed")

// call runs one job through b and returns the guard's refusal, if any.
func callThrough(b *Breaker, jobErr error) error {
	ctx := context.Background()
	t, err := b.Admit(ctx)
	if err != nil {
		return err
	}
	t, err = b.Start(ctx, t)
	if err != nil {
		return err
	}
	b.Done(t, jobErr, 0)
	return nil
}

var _ crew.Guard = (*Breaker)(nil)

func newBreakers(t *testing.T, r *testRedis, n int, cfg crew.BreakerConfig, opts ...BreakerOption) []*Breaker {
	var bs []*Breaker
	for range n {
		b := NewBreaker(r.client(t), "db", cfg, opts...)
		t.Cleanup(func() { require.NoError(t, b.Close()) })
		bs = append(bs, b)
	}
	synctest.Wait() // each has read the shared state
	return bs
}

func TestNewBreakerPanics(t *testing.T) {
	c := newTestRedis(t).client(t)
	for name, f := range map[string]func(){
		"nil client":     func() { NewBreaker(nil, "x", crew.BreakerConfig{}) },
		"empty name":     func() { NewBreaker(c, "", crew.BreakerConfig{}) },
		"negative count": func() { NewBreaker(c, "x", crew.BreakerConfig{FailureThreshold: -1}) },
		"ratio above 1":  func() { NewBreaker(c, "x", crew.BreakerConfig{FailureRatio: 2}) },
		"bad quorum":     func() { WithQuorum(0, time.Second) },
		"bad poll":       func() { WithPollInterval(0) },
	} {
		assert.Contains(t, panicValue(f), "crew: ", name)
	}
}

// One replica's trip opens the circuit on every replica, through pub/sub.
func TestBreakerTripIsShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRedis(t)
		bs := newBreakers(t, r, 3, crew.BreakerConfig{FailureThreshold: 2, ResetTimeout: time.Minute})
		require.NoError(t, callThrough(bs[0], errDown))
		require.NoError(t, callThrough(bs[0], errDown))
		assert.Equal(t, crew.StateOpen, bs[0].State(), "the replica that tripped opens at once")
		synctest.Wait()
		for i, b := range bs {
			assert.Equal(t, crew.StateOpen, b.State(), "replica %d", i)
			err := callThrough(b, nil)
			var re *crew.RejectedError
			require.ErrorAs(t, err, &re)
			assert.ErrorIs(t, err, crew.ErrCircuitOpen)
			assert.Equal(t, "db", re.Guard)
			assert.InDelta(t, time.Minute, re.RetryAfter, float64(time.Second))
		}
	})
}

// Half-open admits HalfOpenMaxRequests probes over the whole cluster, and
// their successes close the circuit everywhere.
func TestBreakerHalfOpenProbesAreClusterWide(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRedis(t)
		bs := newBreakers(t, r, 4, crew.BreakerConfig{FailureThreshold: 1, ResetTimeout: time.Second, HalfOpenMaxRequests: 2})
		require.NoError(t, callThrough(bs[0], errDown))
		synctest.Wait()
		time.Sleep(time.Second)
		// Every replica tries three probes at once; they start together.
		type probe struct {
			b *Breaker
			t crew.Ticket
		}
		var admitted []probe
		for _, b := range bs {
			for range 3 {
				if tk, err := b.Admit(t.Context()); err == nil {
					admitted = append(admitted, probe{b, tk})
				}
			}
		}
		var mu sync.Mutex
		var running []probe
		var wg sync.WaitGroup
		for _, p := range admitted {
			wg.Go(func() {
				if tk, err := p.b.Start(t.Context(), p.t); err == nil {
					mu.Lock()
					running = append(running, probe{p.b, tk})
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		assert.Len(t, running, 2, "two probes over four replicas")
		for _, p := range running {
			p.b.Done(p.t, nil, 0)
		}
		synctest.Wait()
		for i, b := range bs {
			assert.Equal(t, crew.StateClosed, b.State(), "replica %d", i)
		}
	})
}

// With a quorum of 2 one replica's failures do not open the circuit; a
// second replica's do, for all.
func TestBreakerQuorum(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRedis(t)
		bs := newBreakers(t, r, 3, crew.BreakerConfig{FailureThreshold: 2, ResetTimeout: time.Minute},
			WithQuorum(2, 10*time.Second))
		for range 4 {
			require.NoError(t, callThrough(bs[0], errDown))
		}
		synctest.Wait()
		for _, b := range bs {
			assert.Equal(t, crew.StateClosed, b.State())
		}
		require.NoError(t, callThrough(bs[1], errDown))
		require.NoError(t, callThrough(bs[1], errDown))
		synctest.Wait()
		for i, b := range bs {
			assert.Equal(t, crew.StateOpen, b.State(), "replica %d", i)
		}
	})
}

// With Redis down a Breaker is a local breaker: it trips, waits and probes
// alone, and no call waits on Redis. Back up, the trip it made reaches the
// others.
func TestBreakerRedisDownIsLocal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRedis(t)
		bs := newBreakers(t, r, 2, crew.BreakerConfig{FailureThreshold: 1, ResetTimeout: time.Second},
			WithPollInterval(100*time.Millisecond))
		r.kill()
		time.Sleep(200 * time.Millisecond) // the polls find out
		require.True(t, bs[0].Stats().Down)
		begin := time.Now()
		require.NoError(t, callThrough(bs[0], errDown))
		assert.Equal(t, crew.StateOpen, bs[0].State())
		assert.ErrorIs(t, callThrough(bs[0], nil), crew.ErrCircuitOpen)
		time.Sleep(time.Second)
		assert.Equal(t, crew.StateHalfOpen, bs[0].State())
		require.NoError(t, callThrough(bs[0], nil), "a local probe")
		assert.Equal(t, crew.StateClosed, bs[0].State())
		require.NoError(t, callThrough(bs[0], errDown))
		assert.Equal(t, 2*time.Second-time.Second, time.Since(begin), "no call waited")
		assert.Equal(t, crew.StateClosed, bs[1].State(), "the other replica knows nothing yet")
		r.revive()
		time.Sleep(300 * time.Millisecond)
		assert.False(t, bs[0].Stats().Down)
		assert.Equal(t, crew.StateOpen, bs[1].State(), "the trip made while down reached it")
	})
}

// OnStateChange hears every change, in order, also those learnt from Redis.
func TestBreakerOnStateChangeInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRedis(t)
		var mu sync.Mutex
		var seen [][2]crew.CircuitState
		cfg := crew.BreakerConfig{FailureThreshold: 1, ResetTimeout: time.Second, OnStateChange: func(from, to crew.CircuitState) {
			mu.Lock()
			seen = append(seen, [2]crew.CircuitState{from, to})
			mu.Unlock()
		}}
		bs := newBreakers(t, r, 2, cfg)
		require.NoError(t, callThrough(bs[1], errDown))
		synctest.Wait()
		time.Sleep(time.Second)
		require.NoError(t, callThrough(bs[0], nil)) // the probe
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		open, half, closed := crew.StateOpen, crew.StateHalfOpen, crew.StateClosed
		want := [][2]crew.CircuitState{{closed, open}, {closed, open}, {open, half}, {half, closed}}
		// Replica 1 also goes half-open and closed; the order per replica
		// is what counts: both sequences are closed, open, half, closed.
		assert.Subset(t, seen, want)
		assert.Len(t, seen, 6)
	})
}

// Cancellations and other guards' refusals are not failures.
func TestBreakerIgnoresCancelAndRejections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRedis(t)
		b := newBreakers(t, r, 1, crew.BreakerConfig{FailureThreshold: 1})[0]
		require.NoError(t, callThrough(b, context.Canceled))
		require.NoError(t, callThrough(b, &crew.RejectedError{Guard: "ratelimit", Err: crew.ErrRateLimited}))
		assert.Equal(t, crew.StateClosed, b.State())
		require.NoError(t, callThrough(b, &crew.PanicError{Value: "boom"}))
		assert.Equal(t, crew.StateOpen, b.State(), "a panic is a failure")
	})
}
