package crew_test

// A Submit meets a full Batcher (guarantee 3).

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

func TestBatcherBackpressure(t *testing.T) {
	// Size 2, room for 2 pending, one batch running: the fifth item has no room.
	setup := func(t *testing.T, opts ...crew.BatchOption) (*batchRecorder, *crew.Batcher[int, int]) {
		r := &batchRecorder{gate: make(chan struct{})}
		opts = append([]crew.BatchOption{crew.WithBatchSize(2), crew.WithQueueSize(2)}, opts...)
		b := crew.NewBatcher(r.fn, opts...)
		submitItems(t, b, 1, 2, 3, 4)
		synctest.Wait()
		require.Equal(t, 2, b.Stats().Queued)
		return r, b
	}
	t.Run("blocks until room", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r, b := setup(t)
			done := make(chan error)
			go func() {
				_, err := b.Submit(context.Background(), 5)
				done <- err
			}()
			synctest.Wait()
			require.False(t, received(done), "Submit did not wait for room")
			r.gate <- struct{}{} // batch {1,2} ends, {3,4} is cut: room
			require.NoError(t, <-done)
			close(r.gate)
			closeBatcher(t, b)
			assert.Equal(t, [][]int{{1, 2}, {3, 4}, {5}}, r.got())
		})
	})
	t.Run("non-blocking rejects", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r, b := setup(t, crew.WithNonBlocking())
			_, err := b.Submit(context.Background(), 5)
			require.ErrorIs(t, err, crew.ErrQueueFull)
			var re *crew.RejectedError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, "queue", re.Guard)
			assert.Equal(t, uint64(1), b.Stats().Rejected)
			close(r.gate)
			closeBatcher(t, b)
		})
	})
	t.Run("ctx ends the wait", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r, b := setup(t)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := b.Submit(ctx, 5)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			close(r.gate)
			closeBatcher(t, b)
			assert.Equal(t, crew.Stats{Submitted: 4, Rejected: 1, Completed: 4}, b.Stats())
		})
	})
	t.Run("close ends the wait", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r, b := setup(t)
			done := make(chan error)
			go func() {
				_, err := b.Submit(context.Background(), 5)
				done <- err
			}()
			synctest.Wait()
			closed := make(chan error)
			go func() { closed <- b.Close(context.Background()) }()
			require.ErrorIs(t, <-done, crew.ErrClosed)
			close(r.gate)
			require.NoError(t, <-closed)
		})
	})
	t.Run("queue smaller than a batch is raised", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := &batchRecorder{}
			b := crew.NewBatcher(r.fn, crew.WithBatchSize(3), crew.WithQueueSize(0), crew.WithNonBlocking())
			submitItems(t, b, 1, 2, 3)
			closeBatcher(t, b)
			assert.Equal(t, [][]int{{1, 2, 3}}, r.got())
		})
	})
}
