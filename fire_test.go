package crew_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

func TestGoRunsWithoutAFuture(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		synctest.Test(t, func(t *testing.T) {
			p := k.new(2)
			var ran atomic.Int32
			boom := errors.New("boom")
			for i := range 10 {
				require.NoError(t, crew.Go(context.Background(), p, func(context.Context) (int, error) {
					ran.Add(1)
					switch i {
					case 0:
						panic("recovered")
					case 1:
						return 0, boom
					}
					return i, nil
				}))
			}
			require.NoError(t, p.Close(context.Background()))
			wantRuns := 10
			if retrying[k.name] {
				wantRuns += quickAttempts - 1 // the error is retried
			}
			assert.EqualValues(t, wantRuns, ran.Load())
			s := p.Stats()
			assert.EqualValues(t, 10, s.Completed)
			assert.EqualValues(t, 2, s.Failed, "the panic and the error are counted")
			assert.ErrorIs(t, crew.Go(context.Background(), p, value(1)), crew.ErrClosed)
		})
	})
}

func TestGoAllocatesNothing(t *testing.T) {
	for _, tt := range []struct {
		name string
		p    crew.Pool[int]
	}{
		{"pool", crew.NewPool[int](1)},
		{"priority", crew.NewPriorityPool[int](1)},
		{"chain", crew.Chain(crew.NewPool[int](1), crew.NewBreaker(crew.BreakerConfig{}))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan struct{}, 1)
			job := func(context.Context) (int, error) { done <- struct{}{}; return 0, nil }
			for range 100 { // warm the pool's records
				require.NoError(t, crew.Go(context.Background(), tt.p, job))
				<-done
			}
			allocs := testing.AllocsPerRun(1000, func() {
				_ = crew.Go(context.Background(), tt.p, job)
				<-done
			})
			assert.Zero(t, allocs)
			require.NoError(t, tt.p.Close(context.Background()))
		})
	}
}

func TestGoObserverSeesTheOutcome(t *testing.T) {
	var o observed
	p := crew.NewPool[int](1, crew.WithObserver(o.observer()))
	boom := errors.New("boom")
	require.NoError(t, p.Go(context.Background(), func(context.Context) (int, error) { return 0, boom }))
	require.NoError(t, p.Close(context.Background()))
	jobs, _ := o.take()
	require.Len(t, jobs, 1)
	assert.ErrorIs(t, jobs[0].Err, boom, "a Go job's error is seen by the Observer")
}
