package crew_test

// Flush cuts the pending batch, waits for it and joins the items' errors.

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

func TestBatcherFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &batchRecorder{}
		b := crew.NewBatcher(r.fn, crew.WithBatchSize(3), crew.WithBatchWait(time.Hour))
		require.NoError(t, b.Flush(context.Background()), "nothing pending")
		fs := submitItems(t, b, 1, 2, 3, 4, 5, 6, 7)
		synctest.Wait()
		require.NoError(t, b.Flush(context.Background()))
		for _, f := range fs {
			assert.True(t, isResolved(f), "Flush returned before an item was done")
		}
		assert.Equal(t, [][]int{{1, 2, 3}, {4, 5, 6}, {7}}, r.got())
		bs := b.BatchStats()
		assert.Equal(t, uint64(2), bs.BySize)
		assert.Equal(t, uint64(1), bs.ByManual)
		closeBatcher(t, b)
	})
}

func TestBatcherFlushWaitsForRunningBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &batchRecorder{gate: make(chan struct{})}
		b := crew.NewBatcher(r.fn, crew.WithBatchSize(2))
		fs := submitItems(t, b, 1, 2, 3)
		synctest.Wait()
		done := make(chan error)
		go func() { done <- b.Flush(context.Background()) }()
		synctest.Wait()
		require.False(t, received(done), "Flush returned while a batch was running")
		r.gate <- struct{}{}
		r.gate <- struct{}{}
		require.NoError(t, <-done)
		for _, f := range fs {
			assert.True(t, isResolved(f))
		}
		closeBatcher(t, b)
	})
}

func TestBatcherFlushJoinsItemErrors(t *testing.T) {
	errOdd, errBulk := errors.New("odd item"), errors.New("bulk failed")
	synctest.Test(t, func(t *testing.T) {
		gate := make(chan struct{})
		fn := func(_ context.Context, items []int) ([]int, error) {
			<-gate
			if items[0] >= 10 {
				return nil, errBulk
			}
			ie := make(crew.ItemErrors, len(items))
			for i, v := range items {
				if v%2 == 1 {
					ie[i] = errOdd
				}
			}
			return make([]int, len(items)), ie
		}
		b := crew.NewBatcher(fn, crew.WithBatchSize(3))
		submitItems(t, b, 1, 2, 3, 10, 11, 12, 13)
		flushed := make(chan error)
		go func() { flushed <- b.Flush(context.Background()) }()
		synctest.Wait() // Flush has listed every item: none is resolved yet
		close(gate)
		err := <-flushed
		require.ErrorIs(t, err, errOdd)
		require.ErrorIs(t, err, errBulk)
		var joined interface{ Unwrap() []error }
		require.ErrorAs(t, err, &joined)
		// items 1 and 3, then one errBulk per failed batch ({10,11,12} and {13})
		assert.Len(t, joined.Unwrap(), 4)
		closeBatcher(t, b)
	})
}

func TestBatcherFlushContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &batchRecorder{gate: make(chan struct{})}
		b := crew.NewBatcher(r.fn, crew.WithBatchWait(time.Hour))
		fs := submitItems(t, b, 1)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		require.ErrorIs(t, b.Flush(ctx), context.DeadlineExceeded)
		r.gate <- struct{}{}
		_, err := fs[0].Wait(context.Background())
		require.NoError(t, err, "the flushed batch still runs")
		closeBatcher(t, b)
	})
}
