package crew_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"weak"

	"github.com/crew-go/crew"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// batchRecorder is a BatchFunc that records every batch and answers item*10. If
// gate is set, each call first waits for a value on it (or its ctx's end).
type batchRecorder struct {
	gate    chan struct{}
	mu      sync.Mutex
	batches [][]int
	at      []time.Time
	ctxs    []context.Context
	running int // calls inside fn now
	peak    int // most calls inside fn at once
}

func (r *batchRecorder) fn(ctx context.Context, items []int) ([]int, error) {
	r.mu.Lock()
	r.batches = append(r.batches, append([]int(nil), items...))
	r.at = append(r.at, time.Now())
	r.ctxs = append(r.ctxs, ctx)
	r.running++
	r.peak = max(r.peak, r.running)
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running--
		r.mu.Unlock()
	}()
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	outs := make([]int, len(items))
	for i, v := range items {
		outs[i] = v * 10
	}
	return outs, nil
}

func (r *batchRecorder) got() [][]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]int(nil), r.batches...)
}

func (r *batchRecorder) times() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Time(nil), r.at...)
}

// submitItems submits items and returns their Futures.
func submitItems(t *testing.T, b *crew.Batcher[int, int], items ...int) []*crew.Future[int] {
	t.Helper()
	fs := make([]*crew.Future[int], len(items))
	for i, v := range items {
		f, err := b.Submit(context.Background(), v)
		require.NoError(t, err)
		fs[i] = f
	}
	return fs
}

func isResolved[T any](f *crew.Future[T]) bool {
	_, ok := f.Result()
	return ok
}

func closeBatcher[In, Out any](t *testing.T, b *crew.Batcher[In, Out]) {
	t.Helper()
	require.NoError(t, b.Close(context.Background()))
}

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

func TestBatcherItemResults(t *testing.T) {
	errA, errB, errBulk := errors.New("a"), errors.New("b"), errors.New("bulk insert failed")
	tests := []struct {
		name     string
		give     crew.BatchFunc[int, string]
		want     []string
		wantErrs []error // per item; nil: success
		wantAs   bool    // errors are *crew.PanicError
		failed   uint64
	}{
		{
			name: "results by position",
			give: func(_ context.Context, items []int) ([]string, error) {
				return []string{"x", "y", "z"}, nil
			},
			want: []string{"x", "y", "z"}, wantErrs: []error{nil, nil, nil},
		},
		{
			name: "item errors",
			give: func(_ context.Context, items []int) ([]string, error) {
				return []string{"x", "", "z"}, crew.ItemErrors{nil, errA, nil}
			},
			want: []string{"x", "", "z"}, wantErrs: []error{nil, errA, nil}, failed: 1,
		},
		{
			name: "item errors wrapped",
			give: func(_ context.Context, items []int) ([]string, error) {
				return []string{"x", "", ""}, fmtWrap(crew.ItemErrors{nil, errA, errB})
			},
			want: []string{"x", "", ""}, wantErrs: []error{nil, errA, errB}, failed: 2,
		},
		{
			name: "all items failed, no results",
			give: func(_ context.Context, items []int) ([]string, error) {
				return nil, crew.ItemErrors{errA, errB, errA}
			},
			want: []string{"", "", ""}, wantErrs: []error{errA, errB, errA}, failed: 3,
		},
		{
			name: "batch error reaches every item",
			give: func(_ context.Context, items []int) ([]string, error) {
				return []string{"x", "y", "z"}, errBulk
			},
			want: []string{"", "", ""}, wantErrs: []error{errBulk, errBulk, errBulk}, failed: 3,
		},
		{
			name: "too few results",
			give: func(_ context.Context, items []int) ([]string, error) {
				return []string{"x"}, nil
			},
			want: []string{"", "", ""}, wantErrs: []error{crew.ErrResultCount, crew.ErrResultCount, crew.ErrResultCount}, failed: 3,
		},
		{
			name: "too many results",
			give: func(_ context.Context, items []int) ([]string, error) {
				return []string{"x", "y", "z", "w"}, nil
			},
			want: []string{"", "", ""}, wantErrs: []error{crew.ErrResultCount, crew.ErrResultCount, crew.ErrResultCount}, failed: 3,
		},
		{
			name: "item errors of the wrong length",
			give: func(_ context.Context, items []int) ([]string, error) {
				return []string{"x", "y", "z"}, crew.ItemErrors{errA}
			},
			want: []string{"", "", ""}, wantErrs: []error{crew.ErrResultCount, crew.ErrResultCount, crew.ErrResultCount}, failed: 3,
		},
		{
			name: "item errors with successes but no results",
			give: func(_ context.Context, items []int) ([]string, error) {
				return nil, crew.ItemErrors{nil, errA, nil}
			},
			want: []string{"", "", ""}, wantErrs: []error{crew.ErrResultCount, crew.ErrResultCount, crew.ErrResultCount}, failed: 3,
		},
		{
			name: "panic reaches every item",
			give: func(_ context.Context, items []int) ([]string, error) {
				panic(errBulk)
			},
			want: []string{"", "", ""}, wantErrs: []error{errBulk, errBulk, errBulk}, wantAs: true, failed: 3,
		},
		{
			name: "Goexit reaches every item",
			give: func(_ context.Context, items []int) ([]string, error) {
				runtime.Goexit()
				return nil, nil
			},
			want: []string{"", "", ""}, wantErrs: []error{nil, nil, nil}, wantAs: true, failed: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := crew.NewBatcher(tt.give, crew.WithBatchSize(3))
				var fs []*crew.Future[string]
				for i := range 3 {
					f, err := b.Submit(context.Background(), i)
					require.NoError(t, err)
					fs = append(fs, f)
				}
				for i, f := range fs {
					v, err := f.Wait(context.Background())
					assert.Equal(t, tt.want[i], v, "item %d", i)
					if tt.wantAs {
						var pe *crew.PanicError
						require.ErrorAs(t, err, &pe, "item %d", i)
					}
					if tt.wantErrs[i] != nil {
						require.ErrorIs(t, err, tt.wantErrs[i], "item %d", i)
					} else if !tt.wantAs {
						require.NoError(t, err, "item %d", i)
					}
				}
				// The Batcher keeps working after any of these.
				f, err := b.Submit(context.Background(), 9)
				require.NoError(t, err)
				_ = b.Flush(context.Background())
				assert.True(t, isResolved(f))
				_ = b.Close(context.Background())
				s := b.Stats()
				assert.Equal(t, uint64(4), s.Completed)
				assert.GreaterOrEqual(t, s.Failed, tt.failed)
				assert.LessOrEqual(t, s.Failed, tt.failed+1)
			})
		})
	}
}

func TestItemErrorsIsAnError(t *testing.T) {
	errA := errors.New("a")
	ie := crew.ItemErrors{nil, errA, nil}
	var err error = ie
	assert.ErrorIs(t, err, errA)
	assert.Equal(t, "crew: 1 of 3 items failed; first: a", err.Error())
	assert.Equal(t, "crew: 0 of 2 items failed", crew.ItemErrors{nil, nil}.Error())
	var got crew.ItemErrors
	require.ErrorAs(t, fmtWrap(ie), &got)
	assert.Len(t, got, 3)
}

func TestBatcherRunsUnderItsOwnContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &batchRecorder{gate: make(chan struct{})}
		b := crew.NewBatcher(r.fn, crew.WithBatchSize(2))
		type key struct{}
		ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "caller"))
		f1, err := b.Submit(ctx, 1)
		require.NoError(t, err)
		f2 := submitItems(t, b, 2)[0]
		synctest.Wait()
		cancel() // the batch was cut: this caller's cancel must not reach it
		synctest.Wait()
		require.Len(t, r.ctxs, 1)
		bctx := r.ctxs[0]
		assert.NoError(t, bctx.Err(), "a caller's cancel ended the batch")
		assert.Nil(t, bctx.Value(key{}), "the batch runs under the first caller's ctx")
		r.gate <- struct{}{}
		v, err := f1.Wait(context.Background())
		require.NoError(t, err, "an item whose caller gave up after the cut still gets its result")
		assert.Equal(t, 10, v)
		v, err = f2.Wait(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 20, v)
		closeBatcher(t, b)
	})
}

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
			select {
			case <-done:
				t.Fatal("Submit did not wait for room")
			default:
			}
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
		select {
		case <-done:
			t.Fatal("Flush returned while a batch was running")
		default:
		}
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
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				require.NotNil(t, r)
				assert.Regexp(t, "^crew: ", r)
			}()
			tt.give()
		})
	}
	assert.NotPanics(t, func() {
		b := crew.NewBatcher(fn, nil, crew.WithBatchWait(0), crew.WithBatchTimeout(0))
		_ = b.Close(context.Background())
	})
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
type batchGuard struct {
	admitErr, startErr error
	mu                 sync.Mutex
	admits, starts     int
	abandons           int
	doneErrs           []error
}

func (g *batchGuard) Admit(context.Context) (crew.Ticket, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.admits++
	return 0, g.admitErr
}

func (g *batchGuard) Start(context.Context, crew.Ticket) (crew.Ticket, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.starts++
	return 0, g.startErr
}

func (g *batchGuard) Done(_ crew.Ticket, err error, _ time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.doneErrs = append(g.doneErrs, err)
}

func (g *batchGuard) Abandon(crew.Ticket) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.abandons++
}

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

func TestBatcherChainGuardsApplyPerBatch(t *testing.T) {
	errOdd := errors.New("odd")
	synctest.Test(t, func(t *testing.T) {
		g := &batchGuard{}
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
		_ = b.Close(context.Background())
		assert.Equal(t, 2, g.admits)
		assert.Equal(t, 2, g.starts)
		require.Len(t, g.doneErrs, 2)
		assert.Equal(t, 1, countNilErrs(g.doneErrs))
		require.NoError(t, pool.Close(context.Background()))
	})
}

func countNilErrs(errs []error) int {
	n := 0
	for _, err := range errs {
		if err == nil {
			n++
		}
	}
	return n
}

func TestBatcherPoolRefusesBatch(t *testing.T) {
	open := &crew.RejectedError{Guard: "breaker", RetryAfter: time.Second, Err: crew.ErrCircuitOpen}
	tests := []struct {
		name string
		give func() crew.Pool[struct{}]
		want error
	}{
		{"guard refuses at Submit", func() crew.Pool[struct{}] {
			return crew.Chain(crew.NewPool[struct{}](1), &batchGuard{admitErr: open})
		}, crew.ErrCircuitOpen},
		{"guard refuses at start", func() crew.Pool[struct{}] {
			return crew.Chain(crew.NewPool[struct{}](1), &batchGuard{startErr: open})
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
				_ = pool.Close(context.Background())
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

// The Batcher reuses its batches' slices and keeps its pending items in a
// ring it reuses: neither may keep an item's value reachable once the item's
// batch has run.
func TestBatcherKeepsNoItemAfterItsBatch(t *testing.T) {
	type blob [1 << 10]byte
	fn := func(_ context.Context, items []*blob) ([]int, error) { return make([]int, len(items)), nil }
	b := crew.NewBatcher(fn, crew.WithBatchSize(4), crew.WithBatchWait(time.Hour))
	var weaks []weak.Pointer[blob]
	submit := func(n int) { // in a function of its own, so no local keeps a blob
		for range n {
			p := new(blob)
			weaks = append(weaks, weak.Make(p))
			_, err := b.Submit(context.Background(), p)
			require.NoError(t, err)
		}
	}
	submit(4) // a full batch
	submit(2) // a partial one, cut by Flush, in the reused batch
	require.NoError(t, b.Flush(context.Background()))
	runtime.GC()
	for i, w := range weaks {
		assert.Nil(t, w.Value(), "item %d is still reachable", i)
	}
	closeBatcher(t, b)
}

// A BatchFunc may answer with its items slice itself, although the Batcher
// reuses that slice for a later batch: every item still gets its own value.
func TestBatcherFuncMayReturnItsItems(t *testing.T) {
	echo := func(_ context.Context, items []int) ([]int, error) { return items, nil }
	for _, conc := range []int{1, 3} {
		b := crew.NewBatcher(echo, crew.WithBatchSize(7), crew.WithBatchConcurrency(conc))
		var fs []*crew.Future[int]
		for v := range 1000 {
			f, err := b.Submit(context.Background(), v)
			require.NoError(t, err)
			fs = append(fs, f)
		}
		closeBatcher(t, b)
		for v, f := range fs {
			got, err := f.Wait(context.Background())
			require.NoError(t, err)
			require.Equal(t, v, got)
		}
	}
}

// TestBatcherCloseFromBatchFunc: a BatchFunc that closes its own Batcher
// with its batch's ctx gets an error at once instead of waiting for its own
// batch; intake stops, the batch finishes, and a later Close drains.
func TestBatcherCloseFromBatchFunc(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var b *crew.Batcher[int, int]
		closeErr := make(chan error, 1)
		b = crew.NewBatcher(func(ctx context.Context, items []int) ([]int, error) {
			c, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			closeErr <- b.Close(c)
			return items, nil
		}, crew.WithBatchSize(1))
		f, err := b.Submit(context.Background(), 7)
		require.NoError(t, err)
		err = <-closeErr
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
