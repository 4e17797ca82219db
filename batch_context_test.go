package crew_test

// An item whose caller's ctx ends before its batch is cut leaves it
// (guarantee 10); a Wait's ctx ends only the wait; a batch's own timeout.

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

func TestBatcherCallerContextEndLeavesBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &batchRecorder{}
		b := crew.NewBatcher(r.fn, crew.WithBatchSize(10), crew.WithBatchWait(10*time.Millisecond))
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		f1 := submitItems(t, b, 1)[0]
		f2, err := b.Submit(ctx, 2)
		require.NoError(t, err)
		f3 := submitItems(t, b, 3)[0]
		time.Sleep(5 * time.Millisecond)
		cancel()
		synctest.Wait()
		require.True(t, isResolved(f2), "the item resolves when its ctx ends, not when its batch runs")
		_, err = f2.Wait(context.Background())
		require.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, 2, b.Stats().Queued)
		time.Sleep(5 * time.Millisecond)
		synctest.Wait()
		assert.Equal(t, [][]int{{1, 3}}, r.got(), "the item left its batch")
		assert.Equal(t, start.Add(10*time.Millisecond), r.times()[0])
		for _, f := range []*crew.Future[int]{f1, f3} {
			_, err := f.Wait(context.Background())
			require.NoError(t, err)
		}
		closeBatcher(t, b)
		s := b.Stats()
		assert.Equal(t, crew.Stats{Submitted: 3, Completed: 2, Canceled: 1}, s)
	})
}

// When the oldest item leaves, the batch's wait runs from the oldest item
// that is left.
func TestBatcherWaitRestartsFromOldestRemainingItem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &batchRecorder{}
		b := crew.NewBatcher(r.fn, crew.WithBatchSize(10), crew.WithBatchWait(10*time.Millisecond))
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		_, err := b.Submit(ctx, 1)
		require.NoError(t, err)
		time.Sleep(4 * time.Millisecond)
		submitItems(t, b, 2)
		time.Sleep(2 * time.Millisecond)
		cancel()
		time.Sleep(6 * time.Millisecond) // 12ms: item 2 is 8ms old
		synctest.Wait()
		assert.Empty(t, r.got())
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		assert.Equal(t, [][]int{{2}}, r.got())
		assert.Equal(t, start.Add(14*time.Millisecond), r.times()[0])
		closeBatcher(t, b)
	})
}

func TestBatcherWaitEndsOnlyTheWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &batchRecorder{}
		b := crew.NewBatcher(r.fn, crew.WithBatchWait(10*time.Millisecond))
		f := submitItems(t, b, 4)[0]
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		_, err := f.Wait(ctx)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		v, err := f.Wait(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 40, v)
		closeBatcher(t, b)
	})
}

func TestBatcherBatchTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &batchRecorder{gate: make(chan struct{})} // never opened: fn waits for its ctx
		b := crew.NewBatcher(r.fn, crew.WithBatchSize(2), crew.WithBatchTimeout(50*time.Millisecond))
		start := time.Now()
		fs := submitItems(t, b, 1, 2)
		for _, f := range fs {
			_, err := f.Wait(context.Background())
			require.ErrorIs(t, err, context.DeadlineExceeded)
		}
		assert.Equal(t, start.Add(50*time.Millisecond), time.Now())
		closeBatcher(t, b)
	})
}
