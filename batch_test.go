package crew_test

// The Batcher cuts batches by size, by age, one slot at a time by default
// (guarantee 10), and counts them.

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

func TestBatcherSizeFlushesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &batchRecorder{}
		b := crew.NewBatcher(r.fn, crew.WithBatchSize(3), crew.WithBatchWait(time.Hour))
		start := time.Now()
		fs := submitItems(t, b, 1, 2, 3, 4)
		synctest.Wait()
		assert.Equal(t, [][]int{{1, 2, 3}}, r.got())
		assert.Equal(t, []time.Time{start}, r.times(), "no time passes before a full batch starts")
		for i, f := range fs[:3] {
			v, err := f.Wait(context.Background())
			require.NoError(t, err)
			assert.Equal(t, (i+1)*10, v)
		}
		assert.False(t, isResolved(fs[3]), "the fourth item waits for the next batch")
		assert.Equal(t, uint64(1), b.BatchStats().BySize)
		closeBatcher(t, b)
	})
}

func TestBatcherWaitIsMaxAgeNotDebounce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &batchRecorder{}
		b := crew.NewBatcher(r.fn, crew.WithBatchSize(100), crew.WithBatchWait(10*time.Millisecond))
		start := time.Now()
		submitItems(t, b, 1)
		time.Sleep(6 * time.Millisecond)
		submitItems(t, b, 2) // must not push the deadline to 16ms
		time.Sleep(3 * time.Millisecond)
		submitItems(t, b, 3)
		synctest.Wait()
		assert.Empty(t, r.got(), "cut before the oldest item is 10ms old")
		time.Sleep(time.Millisecond)
		synctest.Wait()
		assert.Equal(t, [][]int{{1, 2, 3}}, r.got())
		assert.Equal(t, []time.Time{start.Add(10 * time.Millisecond)}, r.times())
		assert.Equal(t, uint64(1), b.BatchStats().ByWait)
		closeBatcher(t, b)
	})
}

// TestBatcherTimerNotStaleAfterSizeCut pins the trap of a timer that fires
// for the previous batch: after a size cut, the next batch's wait starts
// with its own first item.
func TestBatcherTimerNotStaleAfterSizeCut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &batchRecorder{}
		b := crew.NewBatcher(r.fn, crew.WithBatchSize(2), crew.WithBatchWait(10*time.Millisecond))
		start := time.Now()
		submitItems(t, b, 1)
		time.Sleep(8 * time.Millisecond)
		submitItems(t, b, 2) // size cut at 8ms
		time.Sleep(time.Millisecond)
		submitItems(t, b, 3) // its batch is due at 19ms, not 10ms
		time.Sleep(5 * time.Millisecond)
		synctest.Wait()
		assert.Equal(t, [][]int{{1, 2}}, r.got())
		time.Sleep(5 * time.Millisecond)
		synctest.Wait()
		assert.Equal(t, [][]int{{1, 2}, {3}}, r.got())
		assert.Equal(t, []time.Time{start.Add(8 * time.Millisecond), start.Add(19 * time.Millisecond)}, r.times())
		closeBatcher(t, b)
	})
}

func TestBatcherDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &batchRecorder{}
		b := crew.NewBatcher(r.fn)
		start := time.Now()
		items := make([]int, crew.DefaultBatchSize+1)
		for i := range items {
			items[i] = i
		}
		submitItems(t, b, items...)
		synctest.Wait()
		require.Len(t, r.got(), 1)
		assert.Len(t, r.got()[0], crew.DefaultBatchSize)
		time.Sleep(crew.DefaultBatchWait)
		synctest.Wait()
		assert.Equal(t, [][]int{{crew.DefaultBatchSize}}, r.got()[1:])
		assert.Equal(t, start.Add(crew.DefaultBatchWait), r.times()[1])
		closeBatcher(t, b)
	})
}

func TestBatcherBacklogGoesOutBackToBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &batchRecorder{gate: make(chan struct{})}
		b := crew.NewBatcher(r.fn, crew.WithBatchSize(2), crew.WithBatchWait(10*time.Millisecond))
		fs := submitItems(t, b, 1, 2) // starts at once and blocks in fn
		synctest.Wait()
		fs = append(fs, submitItems(t, b, 3, 4, 5, 6, 7)...)
		time.Sleep(time.Second) // a long first batch: everything behind it is due
		synctest.Wait()
		assert.Len(t, r.got(), 1, "one batch at a time by default")
		release := time.Now()
		for range 4 {
			r.gate <- struct{}{}
		}
		synctest.Wait()
		assert.Equal(t, [][]int{{1, 2}, {3, 4}, {5, 6}, {7}}, r.got(), "in order, never oversized")
		for _, at := range r.times()[1:] {
			assert.Equal(t, release, at, "backlog batches start back to back, not one per tick")
		}
		for i, f := range fs {
			v, err := f.Wait(context.Background())
			require.NoError(t, err)
			assert.Equal(t, (i+1)*10, v)
		}
		closeBatcher(t, b)
	})
}

func TestBatcherWaitZeroBatchesWhatArrivesMeanwhile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &batchRecorder{gate: make(chan struct{})}
		b := crew.NewBatcher(r.fn, crew.WithBatchSize(10), crew.WithBatchWait(0))
		submitItems(t, b, 1)
		synctest.Wait()
		submitItems(t, b, 2, 3, 4)
		synctest.Wait()
		assert.Equal(t, [][]int{{1}}, r.got())
		r.gate <- struct{}{}
		r.gate <- struct{}{}
		synctest.Wait()
		assert.Equal(t, [][]int{{1}, {2, 3, 4}}, r.got())
		closeBatcher(t, b)
	})
}

func TestBatcherConcurrencyBound(t *testing.T) {
	tests := []struct {
		name string
		give int // WithBatchConcurrency; 0: the default
		want int
	}{
		{name: "default", give: 0, want: 1},
		{name: "two", give: 2, want: 2},
		{name: "four", give: 4, want: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := &batchRecorder{gate: make(chan struct{})}
				opts := []crew.BatchOption{crew.WithBatchSize(1)}
				if tt.give > 0 {
					opts = append(opts, crew.WithBatchConcurrency(tt.give))
				}
				b := crew.NewBatcher(r.fn, opts...)
				submitItems(t, b, 1, 2, 3, 4, 5, 6)
				synctest.Wait()
				assert.Equal(t, tt.want, b.Stats().Workers)
				assert.Equal(t, tt.want, b.Stats().Busy)
				assert.Equal(t, 6-tt.want, b.Stats().Queued)
				close(r.gate)
				closeBatcher(t, b)
				assert.Equal(t, tt.want, r.peak)
				assert.Len(t, r.got(), 6)
			})
		})
	}
}

func TestBatcherStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &batchRecorder{}
		b := crew.NewBatcher(r.fn, crew.WithBatchSize(4), crew.WithBatchWait(10*time.Millisecond))
		submitItems(t, b, 1, 2, 3, 4, 5, 6, 7, 8, 9) // two full batches, one pending
		synctest.Wait()
		assert.Equal(t, crew.Stats{Queued: 1, Submitted: 9, Completed: 8}, b.Stats())
		time.Sleep(10 * time.Millisecond) // {9} by wait
		synctest.Wait()                   // the timer fires at this instant too
		submitItems(t, b, 10, 11)
		require.NoError(t, b.Flush(context.Background())) // {10, 11} manual
		submitItems(t, b, 12, 13, 14)
		closeBatcher(t, b) // {12, 13, 14} by close
		assert.Equal(t, crew.Stats{Submitted: 14, Completed: 14}, b.Stats())
		want := crew.BatchStats{Batches: 5, Items: 14, Full: 2, BySize: 2, ByWait: 1, ByManual: 1, ByClose: 1}
		want.Sizes[0] = 1 // {9}
		want.Sizes[1] = 2 // {10, 11}, {12, 13, 14}
		want.Sizes[2] = 2 // the full ones
		assert.Equal(t, want, b.BatchStats())
	})
}

// batchGuard counts the calls a Chain makes to it, and refuses when told to.

func TestBatcherBadInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := crew.NewBatcher((&batchRecorder{}).fn)
		_, err := b.Submit(nilCtx, 1)
		require.Error(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err = b.Submit(ctx, 1)
		require.ErrorIs(t, err, context.Canceled)
		require.Error(t, b.Flush(nilCtx))
		require.Error(t, b.Close(nilCtx))
		assert.Equal(t, crew.Stats{Rejected: 2}, b.Stats())
		closeBatcher(t, b)
	})
}

func TestBatcherConstructorPanics(t *testing.T) {
	fn := (&batchRecorder{}).fn
	tests := []struct {
		name string
		give func()
	}{
		{"nil fn", func() { crew.NewBatcher[int, int](nil) }},
		{"size 0", func() { crew.WithBatchSize(0) }},
		{"size -1", func() { crew.WithBatchSize(-1) }},
		{"wait < 0", func() { crew.WithBatchWait(-time.Nanosecond) }},
		{"concurrency 0", func() { crew.WithBatchConcurrency(0) }},
		{"timeout < 0", func() { crew.WithBatchTimeout(-time.Second) }},
		{"nil pool", func() { crew.WithBatchPool(nil) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assertCrewPanic(t, tt.give) })
	}
	assert.NotPanics(t, func() {
		b := crew.NewBatcher(fn, nil, crew.WithBatchWait(0), crew.WithBatchTimeout(0))
		_ = b.Close(context.Background())
	})
}
