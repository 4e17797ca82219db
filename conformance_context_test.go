package crew_test

// The job's ctx, over every pool kind (guarantee 5).

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

type ctxKey struct{}

// TestConformanceContext: the job's ctx carries the submitter's values and
// cancellation; a job whose ctx ends while queued leaves at once and never
// runs; an ended ctx is refused at Submit.
func TestConformanceContext(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		synctest.Test(t, func(t *testing.T) {
			p := k.new(1)
			ctx := context.WithValue(context.Background(), ctxKey{}, "v")
			got, err := crew.Do(ctx, p, func(ctx context.Context) (int, error) {
				if ctx.Value(ctxKey{}) != "v" {
					return 0, errors.New("the job's ctx lost the submitter's value")
				}
				return 1, nil
			})
			require.NoError(t, err)
			require.Equal(t, 1, got)

			// A job whose ctx ends while queued leaves at once and never runs.
			b := occupy(t, p)
			qctx, cancel := context.WithCancel(ctx)
			var ran atomic.Bool
			f, err := p.Submit(qctx, func(context.Context) (int, error) {
				ran.Store(true)
				return 0, nil
			})
			require.NoError(t, err)
			require.Equal(t, 1, p.Stats().Queued)
			cancel()
			<-f.Done() // resolves while the worker is still blocked
			_, err = f.Wait(context.Background())
			require.ErrorIs(t, err, context.Canceled)
			require.Zero(t, p.Stats().Queued)

			// A running job sees its submitter's cancellation.
			rctx, rcancel := context.WithCancel(ctx)
			b2 := newBlocker()
			f2, err := p.Submit(rctx, b2.job)
			require.NoError(t, err)
			close(b.release)
			<-b2.started
			rcancel()
			_, err = f2.Wait(context.Background())
			require.ErrorIs(t, err, context.Canceled)

			// An ended ctx is refused at Submit.
			_, err = p.Submit(qctx, value(0))
			require.ErrorIs(t, err, context.Canceled)

			require.NoError(t, p.Close(context.Background()))
			assert.False(t, ran.Load(), "a job cancelled while queued must never run")
			s := p.Stats()
			assert.EqualValues(t, 1, s.Canceled)
			assert.EqualValues(t, 1, s.Rejected)
			assert.Equal(t, s.Submitted, s.Completed+s.Canceled)
		})
	})
}

func TestConformanceWaitEndsOnlyTheWait(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		p := k.new(1)
		b := newBlocker()
		f, err := p.Submit(context.Background(), b.job)
		require.NoError(t, err)
		<-b.started
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err = f.Wait(ctx)
		require.ErrorIs(t, err, context.Canceled)
		close(b.release)
		v, err := f.Wait(context.Background())
		require.NoError(t, err, "the job was not cancelled by the waiter's ctx")
		require.Equal(t, 1, v)
		v, err = f.Wait(ctx)
		require.NoError(t, err, "a known outcome wins over an ended ctx")
		require.Equal(t, 1, v)
		r, ok := f.Result()
		require.True(t, ok)
		require.Equal(t, 1, r.Value)
		require.NoError(t, p.Close(context.Background()))
	})
}

// TestConformanceCancelledBeforeStartNeverRuns pins the race between a ctx
// ending and a worker taking the job: the ctx watcher runs on its own
// goroutine, so the worker must check the ctx itself.
func TestConformanceCancelledBeforeStartNeverRuns(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		p := k.new(1)
		for range 300 {
			b := occupy(t, p)
			ctx, cancel := context.WithCancel(context.Background())
			var ran atomic.Bool
			f, err := p.Submit(ctx, func(context.Context) (int, error) {
				ran.Store(true)
				return 0, nil
			})
			require.NoError(t, err)
			cancel() // happens before the worker is free
			close(b.release)
			_, err = f.Wait(context.Background())
			require.ErrorIs(t, err, context.Canceled)
			require.False(t, ran.Load(), "the job ran although its ctx ended while it was queued")
		}
		require.NoError(t, p.Close(context.Background()))
	})
}
