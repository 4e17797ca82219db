package crew_test

// Batches on a shared pool (WithBatchPool): its bound and a Chain's
// guards apply per batch.

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

func TestBatcherSharesAPool(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pool := crew.NewPool[struct{}](1)
		r := &batchRecorder{gate: make(chan struct{})}
		ints := crew.NewBatcher(r.fn, crew.WithBatchSize(2), crew.WithBatchPool(pool))
		strs := crew.NewBatcher(func(ctx context.Context, items []string) ([]int, error) {
			ints := make([]int, len(items))
			for i := range items {
				ints[i] = len(items[i])
			}
			_, err := r.fn(ctx, ints)
			return ints, err
		}, crew.WithBatchSize(2), crew.WithBatchPool(pool))
		fi := submitItems(t, ints, 1, 2)
		fa, err := strs.Submit(context.Background(), "abc")
		require.NoError(t, err)
		_, err = strs.Submit(context.Background(), "de")
		require.NoError(t, err)
		synctest.Wait()
		assert.Len(t, r.got(), 1, "the pool's one worker runs one batch at a time")
		assert.Equal(t, 1, pool.Stats().Queued)
		r.gate <- struct{}{}
		r.gate <- struct{}{}
		v, err := fi[1].Wait(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 20, v)
		v, err = fa.Wait(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 3, v)
		closeBatcher(t, ints)
		closeBatcher(t, strs)
		assert.Equal(t, 1, r.peak)
		assert.Equal(t, uint64(2), pool.Stats().Completed, "one pool job per batch")
		require.NoError(t, pool.Close(context.Background()), "the Batchers leave the pool open")
	})
}

// TestBatcherChainGuardsApplyPerBatch: a Chain's guards see one job per
// batch, and a batch fails for them only when every item failed.
func TestBatcherChainGuardsApplyPerBatch(t *testing.T) {
	errOdd := errors.New("odd")
	synctest.Test(t, func(t *testing.T) {
		g := &recGuard{name: "g", log: &callLog{}}
		pool := crew.Chain(crew.NewPool[struct{}](2), g)
		fn := func(_ context.Context, items []int) ([]int, error) {
			ie := make(crew.ItemErrors, len(items))
			for i, v := range items {
				if v%2 == 1 {
					ie[i] = errOdd
				}
			}
			return items, ie
		}
		b := crew.NewBatcher(fn, crew.WithBatchSize(3), crew.WithBatchPool(pool))
		submitItems(t, b, 1, 2, 3) // some items fail: not a failure for the guard
		submitItems(t, b, 5, 7, 9) // every item fails: a failure
		assert.ErrorIs(t, b.Close(context.Background()), errOdd, "Close joins the items' errors")
		assert.Equal(t, 2, g.log.count("g.Admit"))
		assert.Equal(t, 2, g.log.count("g.Start"))
		require.Len(t, g.doneErrs, 2)
		var failures []error
		for _, err := range g.doneErrs {
			if err != nil {
				failures = append(failures, err)
			}
		}
		require.Len(t, failures, 1, "Done heard %v", g.doneErrs)
		assert.ErrorIs(t, failures[0], errOdd)
		require.NoError(t, pool.Close(context.Background()))
	})
}

func TestBatcherPoolRefusesBatch(t *testing.T) {
	open := &crew.RejectedError{Guard: "breaker", RetryAfter: time.Second, Err: crew.ErrCircuitOpen}
	tests := []struct {
		name string
		give func() crew.Pool[struct{}]
		want error
	}{
		{"guard refuses at Submit", func() crew.Pool[struct{}] {
			return crew.Chain(crew.NewPool[struct{}](1), &recGuard{name: "g", log: &callLog{}, admitErr: open})
		}, crew.ErrCircuitOpen},
		{"guard refuses at start", func() crew.Pool[struct{}] {
			return crew.Chain(crew.NewPool[struct{}](1), &recGuard{name: "g", log: &callLog{}, startErr: open})
		}, crew.ErrCircuitOpen},
		{"pool closed", func() crew.Pool[struct{}] {
			p := crew.NewPool[struct{}](1)
			_ = p.Close(context.Background())
			return p
		}, crew.ErrClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := &batchRecorder{}
				pool := tt.give()
				b := crew.NewBatcher(r.fn, crew.WithBatchSize(2), crew.WithBatchPool(pool))
				fs := submitItems(t, b, 1, 2)
				for _, f := range fs {
					_, err := f.Wait(context.Background())
					require.ErrorIs(t, err, tt.want)
					if tt.want == crew.ErrCircuitOpen {
						var re *crew.RejectedError
						require.ErrorAs(t, err, &re)
						assert.Equal(t, time.Second, re.RetryAfter)
					}
				}
				err := b.Close(context.Background())
				require.NoError(t, err, "nothing left to flush")
				assert.Empty(t, r.got())
				assert.Equal(t, crew.Stats{Submitted: 2, Canceled: 2}, b.Stats())
				require.NoError(t, pool.Close(context.Background()))
			})
		})
	}
}

func TestBatcherCloseGivesUpOnBatchQueuedInPool(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pool := crew.NewPool[struct{}](1)
		hold := make(chan struct{})
		_, err := pool.Submit(context.Background(), func(context.Context) (struct{}, error) {
			<-hold
			return struct{}{}, nil
		})
		require.NoError(t, err)
		r := &batchRecorder{}
		b := crew.NewBatcher(r.fn, crew.WithBatchSize(2), crew.WithBatchPool(pool))
		fs := submitItems(t, b, 1, 2)
		synctest.Wait()
		require.Equal(t, 1, pool.Stats().Queued)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		require.ErrorIs(t, b.Close(ctx), context.DeadlineExceeded)
		for _, f := range fs {
			_, err := f.Wait(context.Background())
			require.ErrorIs(t, err, crew.ErrClosed)
		}
		assert.Empty(t, r.got())
		close(hold)
		require.NoError(t, pool.Close(context.Background()))
	})
}
