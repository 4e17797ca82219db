package crew_test

// The plain pool: first in first out, workers started on demand, misuse at
// construction, and blocked Submits under churn. What every pool kind does
// is in the conformance suite (conformance_test.go).

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

func TestPoolRunsFirstInFirstOut(t *testing.T) {
	p := crew.NewPool[string](1)
	blk := occupy(t, p)
	log := &callLog{}
	want := make([]string, 100)
	for i := range want {
		want[i] = strconv.Itoa(i)
		_, err := p.Submit(context.Background(), log.job(want[i]))
		require.NoError(t, err)
	}
	close(blk.release)
	require.NoError(t, p.Close(context.Background()))
	assert.Equal(t, want, log.take())
}

func TestPoolStartsWorkersOnDemand(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.NewPool[int](3)
		assert.Zero(t, p.Stats().Workers, "no goroutine before the first job")
		blk := newBlocker()
		submitN(t, p, 5, blk.job)
		synctest.Wait()
		s := p.Stats()
		assert.Equal(t, 3, s.Workers, "never more than workers")
		assert.Equal(t, 3, s.Busy)
		assert.Equal(t, 2, s.Queued)
		close(blk.release)
		synctest.Wait()
		s = p.Stats()
		assert.Equal(t, 3, s.Workers, "workers stay until Close")
		assert.Zero(t, s.Busy)
		require.NoError(t, p.Close(context.Background()))
		assert.Zero(t, p.Stats().Workers)
	})
}

func TestPoolConstructorPanics(t *testing.T) {
	tests := []struct {
		name string
		give func()
		want string
	}{
		{"zero workers", func() { crew.NewPool[int](0) }, "crew: NewPool(0): workers must be >= 1"},
		{"negative workers", func() { crew.NewPool[int](-3) }, "crew: NewPool(-3): workers must be >= 1"},
		{"negative queue", func() { crew.WithQueueSize(-1) }, "crew: WithQueueSize(-1): the queue size must be >= 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.PanicsWithValue(t, tt.want, tt.give)
		})
	}
}

// TestPoolBlockedSubmitsUnderChurn races blocked Submits whose ctx ends
// against the room that workers hand them, while finished jobs' records are
// recycled for new Submits: every Submit returns, every accepted job runs
// once and its Future resolves, and the counters add up.
func TestPoolBlockedSubmitsUnderChurn(t *testing.T) {
	p := crew.NewPool[int](2, crew.WithQueueSize(1))
	const submitters, each = 8, 300
	var ran atomic.Int64
	futures := make(chan *crew.Future[int], submitters*each)
	var wg sync.WaitGroup
	for g := range submitters {
		wg.Go(func() {
			for i := range each {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration((g+i)%5)*time.Microsecond)
				if i%3 == 0 {
					ctx, cancel = context.WithCancel(context.Background()) // a ctx that can end but does not
				}
				f, err := p.Submit(ctx, func(context.Context) (int, error) { ran.Add(1); return i, nil })
				cancel()
				if err == nil {
					futures <- f
				}
			}
		})
	}
	wg.Wait()
	close(futures)
	require.NoError(t, p.Close(context.Background()))
	var ok, canceled int64
	for f := range futures {
		require.True(t, isResolved(f), "a Future is unresolved after Close")
		if _, err := f.Wait(context.Background()); err == nil {
			ok++
		} else {
			require.True(t, errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded), "%v", err)
			canceled++
		}
	}
	s := p.Stats()
	assert.Equal(t, ran.Load(), ok)
	assert.Equal(t, uint64(ok), s.Completed)
	assert.Equal(t, uint64(canceled), s.Canceled)
	assert.Equal(t, s.Submitted, s.Completed+s.Canceled)
	assert.Equal(t, uint64(submitters*each), s.Submitted+s.Rejected)
	assert.Zero(t, s.Workers)
}
