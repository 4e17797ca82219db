package crew_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

func TestBreakerTripAndReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, log := newLoggedBreaker(crew.BreakerConfig{ResetTimeout: time.Minute})
		b.Trip()
		time.Sleep(30 * time.Second)
		b.Trip() // again: open for a full ResetTimeout from now
		assertRefused(t, b.Execute(context.Background(), succeed), "breaker", time.Minute, 90*time.Second-1)
		b.Reset()
		assert.Equal(t, crew.StateClosed, b.State())
		require.NoError(t, b.Execute(context.Background(), succeed))
		b.Reset() // already closed: no change to report
		assert.Equal(t, []string{"closed->open (open)", "open->closed (closed)"}, log.get())
	})
}

// TestBreakerOnStateChangeMayReenter: the hook may call any method of the
// breaker, also ones that change the state again; the changes it makes are
// delivered after it returns, in order, and nothing deadlocks (in a
// synctest bubble a deadlock fails the test instead of hanging it).
func TestBreakerOnStateChangeMayReenter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var b *crew.Breaker
		var seen []string
		b = crew.NewBreaker(crew.BreakerConfig{FailureThreshold: 1, ResetTimeout: time.Second, OnStateChange: func(from, to crew.CircuitState) {
			s := b.Stats()
			seen = append(seen, fmt.Sprintf("%v->%v (%v, trips %d)", from, to, b.State(), s.Trips))
			switch to {
			case crew.StateOpen:
				if s.Trips == 1 {
					b.Reset() // a hook that closes right away, the first time
				}
			case crew.StateClosed:
				if s.Trips == 1 {
					b.Trip() // and opens again
				}
			}
		}})
		require.ErrorIs(t, b.Execute(context.Background(), fail), errBoom)
		assert.Equal(t, crew.StateOpen, b.State())
		time.Sleep(time.Second)
		require.NoError(t, b.Execute(context.Background(), succeed), "the probe, from a hook-free state")
		assert.Equal(t, []string{
			"closed->open (open, trips 1)",   // then the hook calls Reset...
			"open->closed (closed, trips 1)", // ...delivered once the hook returned; it calls Trip...
			"closed->open (open, trips 2)",   // ...delivered next, all before Execute returned
			"open->half-open (half-open, trips 2)",
			"half-open->closed (closed, trips 2)",
		}, seen)
	})
}

// TestBreakerOnStateChangeOneAtATimeInOrder: changes made on many
// goroutines at once reach the hook one at a time and in the order they
// were made: each starts where the one before ended, and the last ends in
// the state the Breaker is in. (They used to be called on each goroutine
// that made a change, at once and out of order.)
func TestBreakerOnStateChangeOneAtATimeInOrder(t *testing.T) {
	var mu sync.Mutex
	var changes [][2]crew.CircuitState
	var inHook atomic.Int32
	b := crew.NewBreaker(crew.BreakerConfig{OnStateChange: func(from, to crew.CircuitState) {
		if inHook.Add(1) != 1 {
			assert.Fail(t, "two OnStateChange calls at once")
		}
		runtime.Gosched() // give other goroutines a chance to change the state meanwhile
		mu.Lock()
		changes = append(changes, [2]crew.CircuitState{from, to})
		mu.Unlock()
		inHook.Add(-1)
	}})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				if (g+i)%2 == 0 {
					b.Trip()
				} else {
					b.Reset()
				}
			}
		})
	}
	wg.Wait()
	final := b.State()
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, changes)
	assert.Equal(t, crew.StateClosed, changes[0][0])
	for i := 1; i < len(changes); i++ {
		require.Equal(t, changes[i-1][1], changes[i][0], "change %d does not start where change %d ended", i, i-1)
	}
	assert.Equal(t, final, changes[len(changes)-1][1], "the last change ends in the final state")
	assert.Equal(t, uint64(len(changes)), 2*b.Stats().Trips-boolToUint(final == crew.StateOpen), "every change delivered once")
}

func boolToUint(v bool) uint64 {
	if v {
		return 1
	}
	return 0
}

// TestBreakerOnStateChangeDeliveredByTheBusyGoroutine: a change made while
// another goroutine is delivering is delivered by that goroutine, after
// the one it is delivering, and the call that made it does not wait.
func TestBreakerOnStateChangeDeliveredByTheBusyGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inHook := make(chan struct{})
		release := make(chan struct{})
		var seen []crew.CircuitState
		b := crew.NewBreaker(crew.BreakerConfig{OnStateChange: func(_, to crew.CircuitState) {
			seen = append(seen, to) // one call at a time: no lock needed
			if to == crew.StateOpen {
				close(inHook)
				<-release
			}
		}})
		tripped := make(chan struct{})
		go func() {
			b.Trip() // delivers closed->open, and waits in the hook
			close(tripped)
		}()
		<-inHook
		b.Reset() // returns at once: the tripping goroutine is delivering
		assert.Equal(t, crew.StateClosed, b.State())
		assert.Equal(t, []crew.CircuitState{crew.StateOpen}, seen, "open->closed is not delivered yet")
		close(release)
		<-tripped // Trip returns after delivering both
		assert.Equal(t, []crew.CircuitState{crew.StateOpen, crew.StateClosed}, seen)
	})
}

// TestBreakerCallbackPanics: a panic in OnStateChange or IsFailure never
// ends the program and never leaves the breaker stuck: the change stands
// and later ones are still delivered; a panicking IsFailure makes the call
// a failure (a probe's failure reopens the circuit, so no slot stays
// taken); the caller gets the call's own result; each panic is counted in
// Stats with the last one kept. The same through a pool, where the hook
// runs on a worker goroutine.
func TestBreakerCallbackPanics(t *testing.T) {
	t.Run("OnStateChange", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var calls []crew.CircuitState
			b := crew.NewBreaker(crew.BreakerConfig{FailureThreshold: 1, ResetTimeout: time.Second,
				OnStateChange: func(_, to crew.CircuitState) {
					calls = append(calls, to)
					panic("hook: " + to.String())
				}})
			require.ErrorIs(t, b.Execute(context.Background(), fail), errBoom, "the caller gets its own result")
			assert.Equal(t, crew.StateOpen, b.State(), "the change stands")
			time.Sleep(time.Second)
			require.NoError(t, b.Execute(context.Background(), succeed), "the probe")
			assert.Equal(t, crew.StateClosed, b.State())
			assert.Equal(t, []crew.CircuitState{crew.StateOpen, crew.StateHalfOpen, crew.StateClosed}, calls, "delivery goes on")
			s := b.Stats()
			assert.Equal(t, uint64(3), s.CallbackPanics)
			require.NotNil(t, s.LastCallbackPanic)
			assert.Equal(t, "hook: closed", s.LastCallbackPanic.Value)
			assert.NotEmpty(t, s.LastCallbackPanic.Stack)
		})
	})
	t.Run("IsFailure", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := crew.NewBreaker(crew.BreakerConfig{FailureThreshold: 2, ResetTimeout: time.Second,
				IsFailure: func(err error) bool { panic("classifier: " + err.Error()) }})
			require.ErrorIs(t, b.Execute(context.Background(), fail), errBoom)
			require.ErrorIs(t, b.Execute(context.Background(), fail), errBoom)
			assert.Equal(t, crew.StateOpen, b.State(), "two failures")
			time.Sleep(time.Second)
			require.ErrorIs(t, b.Execute(context.Background(), fail), errBoom, "the probe")
			assert.Equal(t, crew.StateOpen, b.State(), "the probe failed: reopened, not stuck half-open")
			s := b.Stats()
			assert.Equal(t, uint64(3), s.CallbackPanics)
			assert.Equal(t, "classifier: boom", s.LastCallbackPanic.Value)
			assert.Equal(t, uint64(1), s.ProbeFailures)
		})
	})
	t.Run("IsFailure calls Goexit in a probe", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := crew.NewBreaker(crew.BreakerConfig{ResetTimeout: time.Second,
				IsFailure: func(error) bool { runtime.Goexit(); return false }})
			tripAndWait(b)
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = b.Execute(context.Background(), fail)
				assert.Fail(t, "Execute returned after Goexit")
			}()
			<-done
			assert.Equal(t, crew.StateOpen, b.State(), "counted as a failure: the round is over")
			assert.Equal(t, uint64(1), b.Stats().CallbackPanics)
		})
	})
	t.Run("OnStateChange calls Goexit", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var calls []crew.CircuitState
			b := crew.NewBreaker(crew.BreakerConfig{OnStateChange: func(_, to crew.CircuitState) {
				calls = append(calls, to)
				if to == crew.StateOpen {
					runtime.Goexit()
				}
			}})
			done := make(chan struct{})
			go func() {
				defer close(done)
				b.Trip()
			}()
			<-done
			b.Reset() // its change is delivered: delivery was not left marked busy
			assert.Equal(t, []crew.CircuitState{crew.StateOpen, crew.StateClosed}, calls)
			assert.Equal(t, uint64(1), b.Stats().CallbackPanics)
		})
	})
	t.Run("through a pool", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := crew.NewBreaker(crew.BreakerConfig{FailureThreshold: 1,
				IsFailure:     func(error) bool { panic("classifier") },
				OnStateChange: func(_, _ crew.CircuitState) { panic("hook") }})
			p := crew.Chain(crew.NewPool[int](1), b)
			_, err := crew.Do(context.Background(), p, func(context.Context) (int, error) { return 0, errBoom })
			require.ErrorIs(t, err, errBoom, "the job's own outcome")
			assert.Equal(t, crew.StateOpen, b.State())
			b.Reset()
			v, err := crew.Do(context.Background(), p, func(context.Context) (int, error) { return 7, nil })
			require.NoError(t, err, "the pool keeps working")
			assert.Equal(t, 7, v)
			closePool(t, p)
			assert.Equal(t, uint64(3), b.Stats().CallbackPanics, "IsFailure once, the hook twice")
		})
	})
}
