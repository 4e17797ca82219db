package crew_test

import (
	"context"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

// TestMaxIntSizesMeanNoBound pins the fix for math.MaxInt sizes
// deadlocking: the room check added sizes and overflowed, so the first
// Submit on an idle pool blocked forever (or, WithNonBlocking, was
// refused). MaxInt means "no bound", in every size a pool takes.
func TestMaxIntSizesMeanNoBound(t *testing.T) {
	const big = math.MaxInt
	kinds := []struct {
		name string
		new  func(opts ...crew.Option) crew.Pool[int]
	}{
		{"NewPool(MaxInt)", func(o ...crew.Option) crew.Pool[int] { return crew.NewPool[int](big, o...) }},
		{"NewPriorityPool(MaxInt)", func(o ...crew.Option) crew.Pool[int] { return crew.NewPriorityPool[int](big, o...) }},
		{"NewAdaptivePool(0, MaxInt)", func(o ...crew.Option) crew.Pool[int] { return crew.NewAdaptivePool[int](0, big, o...) }},
		{"NewAdaptivePool limit control", func(o ...crew.Option) crew.Pool[int] {
			return crew.NewAdaptivePool[int](0, big, append(o, crew.WithLimitControl(crew.LimitConfig{}))...)
		}},
		{"NewPool(1) queue MaxInt", func(o ...crew.Option) crew.Pool[int] {
			return crew.NewPool[int](1, append(o, crew.WithQueueSize(big))...)
		}},
		{"NewPriorityPool(MaxInt) queue MaxInt", func(o ...crew.Option) crew.Pool[int] {
			return crew.NewPriorityPool[int](big, append(o, crew.WithQueueSize(big))...)
		}},
	}
	for _, k := range kinds {
		for _, nonBlocking := range []bool{false, true} {
			t.Run(k.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					var opts []crew.Option
					if nonBlocking {
						opts = append(opts, crew.WithNonBlocking())
					}
					p := k.new(opts...)
					var futs []*crew.Future[int]
					for i := range 100 {
						f, err := p.Submit(context.Background(), func(context.Context) (int, error) {
							time.Sleep(time.Millisecond)
							return i, nil
						})
						require.NoError(t, err, "Submit %d", i)
						futs = append(futs, f)
					}
					for i, f := range futs {
						v, err := f.Wait(context.Background())
						require.NoError(t, err)
						assert.Equal(t, i, v)
					}
					require.NoError(t, p.Close(context.Background()))
				})
			})
		}
	}
}

// TestBatcherMaxIntSizesMeanNoBound: the same for a Batcher's queue size,
// batch size and batch wait (the timer's deadline added the wait and
// overflowed, cutting at once).
func TestBatcherMaxIntSizesMeanNoBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sizes []int
		b := crew.NewBatcher(func(_ context.Context, in []int) ([]int, error) {
			sizes = append(sizes, len(in))
			return in, nil
		}, crew.WithQueueSize(math.MaxInt), crew.WithBatchSize(math.MaxInt),
			crew.WithBatchWait(time.Duration(math.MaxInt64)), crew.WithNonBlocking())
		var futs []*crew.Future[int]
		for i := range 10 {
			f, err := b.Submit(context.Background(), i)
			require.NoError(t, err)
			futs = append(futs, f)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.Empty(t, sizes, "no cut before the wait")
		require.NoError(t, b.Flush(context.Background()))
		assert.Equal(t, []int{10}, sizes)
		for i, f := range futs {
			v, err := f.Wait(context.Background())
			require.NoError(t, err)
			assert.Equal(t, i, v)
		}
		require.NoError(t, b.Close(context.Background()))
	})
}
