package crew_test

// Close flushes the partial batch, or gives up when its ctx ends
// (guarantees 2 and 10).

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/crew-go/crew"
)

func TestBatcherCloseFlushesPartialBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &batchRecorder{}
		b := crew.NewBatcher(r.fn, crew.WithBatchSize(10), crew.WithBatchWait(time.Hour))
		fs := submitItems(t, b, 1, 2, 3)
		synctest.Wait()
		require.Empty(t, r.got())
		start := time.Now()
		closeBatcher(t, b)
		assert.Equal(t, [][]int{{1, 2, 3}}, r.got())
		assert.Equal(t, start, time.Now(), "Close did not wait for the batch wait")
		for _, f := range fs {
			assert.True(t, isResolved(f))
		}
		_, err := b.Submit(context.Background(), 4)
		require.ErrorIs(t, err, crew.ErrClosed)
		assert.Equal(t, uint64(1), b.BatchStats().ByClose)
		s := b.Stats()
		assert.Equal(t, s.Submitted, s.Completed+s.Canceled)
		assert.Equal(t, uint64(1), s.Rejected)
	})
}

func TestBatcherCloseReturnsItemErrors(t *testing.T) {
	errBulk := errors.New("bulk failed")
	synctest.Test(t, func(t *testing.T) {
		b := crew.NewBatcher(func(context.Context, []int) ([]int, error) { return nil, errBulk })
		submitItems(t, b, 1, 2)
		err := b.Close(context.Background())
		require.ErrorIs(t, err, errBulk)
		require.Equal(t, err, b.Close(context.Background()), "a later Close returns the first result")
	})
}

func TestBatcherCloseGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &batchRecorder{gate: make(chan struct{})} // fn returns only when its ctx ends
		b := crew.NewBatcher(r.fn, crew.WithBatchSize(2), crew.WithQueueSize(4))
		fs := submitItems(t, b, 1, 2, 3, 4, 5)
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		results := make(chan error, 3)
		for range 3 {
			go func() { results <- b.Close(ctx) }()
		}
		for range 3 {
			require.ErrorIs(t, <-results, context.DeadlineExceeded, "every concurrent Close returns the first outcome")
		}
		require.ErrorIs(t, b.Close(context.Background()), context.DeadlineExceeded, "a later Close too")
		_, err := fs[0].Wait(context.Background())
		require.ErrorIs(t, err, context.Canceled, "the running batch's ctx was cancelled")
		for _, f := range fs[2:] {
			_, err := f.Wait(context.Background())
			require.ErrorIs(t, err, crew.ErrClosed, "items not handed to fn")
		}
		assert.Equal(t, [][]int{{1, 2}}, r.got())
		s := b.Stats()
		assert.Equal(t, crew.Stats{Submitted: 5, Completed: 2, Failed: 2, Canceled: 3}, s)
	})
}

func TestBatcherCloseIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := crew.NewBatcher((&batchRecorder{}).fn)
		closeBatcher(t, b)
		closeBatcher(t, b)
	})
}

// An idle Batcher holds no goroutine: not after NewBatcher, not between
// batches. goleak compares against the goroutines alive before, so other
// tests' goroutines do not matter.
func TestBatcherIdleHasNoGoroutine(t *testing.T) {
	before := goleak.IgnoreCurrent()
	r := &batchRecorder{}
	b := crew.NewBatcher(r.fn, crew.WithBatchWait(time.Millisecond))
	goleak.VerifyNone(t, before)
	f := submitItems(t, b, 1)[0]
	_, err := f.Wait(context.Background())
	require.NoError(t, err)
	goleak.VerifyNone(t, before) // the batch goroutine has gone
	assert.Equal(t, 0, b.Stats().Workers)
	closeBatcher(t, b)
}

// TestBatcherCloseFromBatchFuncReturnsAtOnce: a BatchFunc that closed its
// own Batcher with its batch's ctx waited for its own batch until that ctx
// ended. It gets an error at once; intake stops, the batch finishes, and a
// later Close drains.
func TestBatcherCloseFromBatchFuncReturnsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var b *crew.Batcher[int, int]
		closeErr := make(chan error, 1)
		b = crew.NewBatcher(func(ctx context.Context, items []int) ([]int, error) {
			c, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			closeErr <- b.Close(c)
			return items, nil
		}, crew.WithBatchSize(1))
		start := time.Now()
		f, err := b.Submit(context.Background(), 7)
		require.NoError(t, err)
		err = <-closeErr
		assert.Zero(t, time.Since(start), "Close waited for its own batch")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "Close called from the Batcher's own BatchFunc")
		v, err := f.Wait(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 7, v)
		_, err = b.Submit(context.Background(), 8)
		assert.ErrorIs(t, err, crew.ErrClosed)
		require.NoError(t, b.Close(context.Background()))
	})
}
