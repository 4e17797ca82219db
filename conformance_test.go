package crew_test

// The conformance suite: guarantees 1 to 5, and what Close and a closed pool
// say (guarantees 2 and 16), run over every pool kind. A new pool (or Chain)
// joins by adding a row to poolKinds below. This file runs jobs, bad input,
// panics and Goexit (guarantees 1, 4 and 5's nil inputs); the other tests
// are in conformance_*_test.go, one guarantee each.

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/crew-go/crew"
)

// poolKind builds a pool of one kind with at most workers running jobs.
type poolKind struct {
	name string
	new  func(workers int, opts ...crew.Option) crew.Pool[int]
}

// blindClose names the kinds whose Close cannot see into their base (Retry
// over a foreign pool): a Submit waiting for room inside it is let in once
// room appears, and the job runs before Close returns; a Close from one of
// its jobs waits for itself. Retry's doc says so.
var blindClose = map[string]bool{"retry-foreign": true}

// retrying names the kinds that run a job that failed with an error up to
// quickAttempts times (Retry); other failures and successes run once.
var retrying = map[string]bool{"retry": true, "retry-chain": true, "retry-foreign": true}

const quickAttempts = 3 // quickRetry's MaxAttempts, the default

var poolKinds = []poolKind{
	{"pool", func(w int, o ...crew.Option) crew.Pool[int] { return crew.NewPool[int](w, o...) }},
	{"chain", func(w int, o ...crew.Option) crew.Pool[int] {
		return crew.Chain[int](crew.NewPool[int](w, o...), passGuard{}, passGuard{})
	}},
	{"limiter-breaker-chain", func(w int, o ...crew.Option) crew.Pool[int] {
		return crew.Chain[int](crew.NewPool[int](w, o...),
			crew.NewRateLimiter(rate.Limit(1e6), 1000), crew.NewBreaker(crew.BreakerConfig{}))
	}},
	// Adaptive: growing from zero with a short idle timeout (workers come
	// and go during the tests), all workers kept (min = max), under the
	// limit controller, behind a Chain, and in priority order.
	{"adaptive", func(w int, o ...crew.Option) crew.Pool[int] {
		return crew.NewAdaptivePool[int](0, w, append([]crew.Option{crew.WithIdleTimeout(time.Millisecond)}, o...)...)
	}},
	{"adaptive-min", func(w int, o ...crew.Option) crew.Pool[int] {
		return crew.NewAdaptivePool[int](w, w, o...)
	}},
	{"adaptive-limit", func(w int, o ...crew.Option) crew.Pool[int] {
		return crew.NewAdaptivePool[int](0, w, append([]crew.Option{crew.WithLimitControl(crew.LimitConfig{Initial: w})}, o...)...)
	}},
	{"adaptive-chain", func(w int, o ...crew.Option) crew.Pool[int] {
		return crew.Chain[int](crew.NewAdaptivePool[int](0, w, o...), passGuard{})
	}},
	{"adaptive-priority", func(w int, o ...crew.Option) crew.Pool[int] {
		return crew.NewAdaptivePool[int](0, w, append([]crew.Option{crew.WithPriorityOrder(), crew.WithIdleTimeout(time.Millisecond)}, o...)...)
	}},
	{"foreign-chain", func(w int, o ...crew.Option) crew.Pool[int] {
		return crew.Chain[int](foreignPool[int]{crew.NewPool[int](w, o...)}, passGuard{})
	}},
	{"priority", func(w int, o ...crew.Option) crew.Pool[int] { return crew.NewPriorityPool[int](w, o...) }},
	{"priority-strict-evict", func(w int, o ...crew.Option) crew.Pool[int] {
		return crew.NewPriorityPool[int](w, append([]crew.Option{crew.WithAging(0), crew.WithEvictLowest()}, o...)...)
	}},
	{"priority-chain", func(w int, o ...crew.Option) crew.Pool[int] {
		return crew.Chain[int](crew.NewPriorityPool[int](w, o...), passGuard{}, passGuard{})
	}},
	// Retry over a pool, over a Chain of a priority pool with both guards,
	// and over a pool crew cannot see into.
	{"retry", func(w int, o ...crew.Option) crew.Pool[int] {
		return crew.Retry(crew.NewPool[int](w, o...), quickRetry)
	}},
	{"retry-chain", func(w int, o ...crew.Option) crew.Pool[int] {
		return crew.Retry(crew.Chain[int](crew.NewPriorityPool[int](w, o...),
			crew.NewRateLimiter(rate.Limit(1e6), 1000), crew.NewBreaker(crew.BreakerConfig{})), quickRetry)
	}},
	{"retry-foreign", func(w int, o ...crew.Option) crew.Pool[int] {
		return crew.Retry[int](foreignPool[int]{crew.NewPool[int](w, o...)}, quickRetry)
	}},
}

// quickRetry is the Retry policy of the conformance kinds.
var quickRetry = crew.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}

// forEachKind runs test once per pool kind.
func forEachKind(t *testing.T, test func(t *testing.T, k poolKind)) {
	for _, k := range poolKinds {
		t.Run(k.name, func(t *testing.T) { test(t, k) })
	}
}

func TestConformanceRunsJobs(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		p := k.new(4)
		futures := make([]*crew.Future[int], 1000)
		for i := range futures {
			f, err := p.Submit(context.Background(), value(i))
			require.NoError(t, err)
			futures[i] = f
		}
		for i, f := range futures {
			v, err := f.Wait(context.Background())
			require.NoError(t, err)
			require.Equal(t, i, v)
		}
		v, err := crew.Do(context.Background(), p, value(7))
		require.NoError(t, err)
		require.Equal(t, 7, v)
		require.NoError(t, p.Close(context.Background()))
		s := p.Stats()
		assert.Equal(t, uint64(1001), s.Submitted)
		assert.Equal(t, uint64(1001), s.Completed)
		assert.Zero(t, s.Workers)
	})
}

func TestConformanceBadInput(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		p := k.new(1)
		_, err := p.Submit(nilCtx, value(1))
		require.Error(t, err)
		require.Contains(t, err.Error(), "nil context")
		_, err = p.Submit(context.Background(), nil)
		require.Error(t, err)
		require.Contains(t, err.Error(), "nil Job")
		require.NoError(t, p.Close(context.Background()))
		s := p.Stats()
		assert.EqualValues(t, 2, s.Rejected)
		assert.Zero(t, s.Submitted)
	})
}

func TestConformancePanic(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		p := k.new(1)
		for i := range 3 {
			f, err := p.Submit(context.Background(), func(context.Context) (int, error) {
				panicky(i)
				return 0, nil
			})
			require.NoError(t, err)
			_, err = f.Wait(context.Background())
			var pe *crew.PanicError
			require.ErrorAs(t, err, &pe)
			require.Equal(t, i, pe.Value)
			require.Contains(t, string(pe.Stack), "panicky", "the stack is the panicking job's")
		}
		// The single worker survived: the pool still runs jobs.
		v, err := crew.Do(context.Background(), p, value(9))
		require.NoError(t, err)
		require.Equal(t, 9, v)
		wrapped := errors.New("boom")
		_, err = crew.Do(context.Background(), p, func(context.Context) (int, error) { panic(wrapped) })
		require.ErrorIs(t, err, wrapped, "a panic(err) unwraps to err")
		require.NoError(t, p.Close(context.Background()))
		s := p.Stats()
		assert.EqualValues(t, 5, s.Completed)
		assert.EqualValues(t, 4, s.Failed)
	})
}

//go:noinline
func panicky(v int) { panic(v) }

func TestConformanceGoexit(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		p := k.new(1)
		_, err := crew.Do(context.Background(), p, func(context.Context) (int, error) {
			runtime.Goexit()
			return 0, nil
		})
		var pe *crew.PanicError
		require.ErrorAs(t, err, &pe)
		v, err := crew.Do(context.Background(), p, value(3))
		require.NoError(t, err)
		require.Equal(t, 3, v)
		require.NoError(t, p.Close(context.Background()))
		s := p.Stats()
		assert.EqualValues(t, 2, s.Completed)
		assert.Zero(t, s.Workers)
	})
}
