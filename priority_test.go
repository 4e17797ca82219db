package crew_test

// The priority pool: higher first, first in first out among equals
// (guarantee 6), across a Chain; a cancelled job leaves its level; the
// queue's own stats. Aging is in priority_aging_test.go, eviction in
// priority_evict_test.go.

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

func TestPriorityOrder(t *testing.T) {
	tests := []struct {
		name string
		give []int // priorities, in submission order
		opts []crew.Option
	}{
		{name: "levels", give: []int{0, 5, -2, 5, 3, 0, 9, -2, 1}},
		{name: "strict", give: []int{0, 5, -2, 5, 3, 0, 9, -2, 1}, opts: []crew.Option{crew.WithAging(0)}},
		{name: "no priority is 0", give: []int{-1, noPrio, 1, 0, noPrio, -1}},
		// With aging, priorities beyond ±2^62ns/step rank alike (first in,
		// first out), so each pair of extremes comes in its own order.
		{name: "extremes", give: []int{0, math.MinInt + 1, math.MaxInt, -1, math.MaxInt - 1, math.MinInt, 1}},
		{name: "extremes strict", give: []int{0, math.MinInt + 1, math.MaxInt, -1, math.MaxInt - 1, math.MinInt, 1}, opts: []crew.Option{crew.WithAging(0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { // time stands still: no aging between Submits
				checkOrder(t, crew.NewPriorityPool[string](1, tt.opts...), tt.give)
			})
		})
	}
}

func TestPrioritySurvivesChain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := crew.NewPriorityPool[string](1)
		checkOrder(t, crew.Chain[string](base, passGuard{}, passGuard{}), []int{0, 3, -1, 3, 7, noPrio})
	})
}

func TestPriorityFIFOAmongEquals(t *testing.T) {
	tests := []struct {
		name string
		give time.Duration // WithAging
	}{
		{name: "aging", give: crew.DefaultAgingStep},
		{name: "strict", give: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := crew.NewPriorityPool[string](1, crew.WithAging(tt.give))
			blk := occupy(t, p)
			log := &callLog{}
			want := make([]string, 2000)
			for i := range want {
				want[i] = fmt.Sprint(i)
				_, err := p.Submit(crew.WithPriority(context.Background(), 7), log.job(want[i]))
				require.NoError(t, err)
			}
			close(blk.release)
			require.NoError(t, p.Close(context.Background()))
			assert.Equal(t, want, log.take(), "equal priorities ran out of submission order")
		})
	}
}

func TestPriorityCancelRemovesQueuedJob(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.NewPriorityPool[string](1)
		blk := occupy(t, p)
		log := &callLog{}
		ctx, cancel := context.WithCancel(crew.WithPriority(context.Background(), 2))
		doomed, err := p.Submit(ctx, log.job("doomed"))
		require.NoError(t, err)
		for i, pr := range []int{2, 2, 0} {
			_, err := p.Submit(crew.WithPriority(context.Background(), pr), log.job(fmt.Sprint(i)))
			require.NoError(t, err)
		}
		require.Equal(t, map[int]int{2: 3, 0: 1}, p.QueueStats().Levels, "before cancel")

		cancel()
		synctest.Wait() // the worker is still held: only the cancellation can resolve doomed
		require.True(t, isResolved(doomed), "the cancelled job's Future did not resolve while the worker was busy")
		_, err = doomed.Wait(context.Background())
		assert.ErrorIs(t, err, context.Canceled)
		s := p.Stats()
		assert.Equal(t, 3, s.Queued)
		assert.EqualValues(t, 1, s.Canceled)
		assert.Equal(t, map[int]int{2: 2, 0: 1}, p.QueueStats().Levels, "after cancel")

		close(blk.release)
		require.NoError(t, p.Close(context.Background()))
		assert.Equal(t, []string{"0", "1", "2"}, log.take())
	})
}

func TestPriorityNestedSubmitOnFullQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.NewPriorityPool[string](1, crew.WithQueueSize(1))
		var nestedErr error
		outer, err := p.Submit(context.Background(), func(ctx context.Context) (string, error) {
			// The only worker runs this job: one nested job fits, the next
			// cannot, and waiting for room would wait for ourselves.
			if _, err := p.Submit(ctx, func(context.Context) (string, error) { return "inner", nil }); err != nil {
				return "", err
			}
			_, nestedErr = p.Submit(crew.WithPriority(ctx, 9), func(context.Context) (string, error) { return "inner", nil })
			return "outer", nil
		})
		require.NoError(t, err)
		_, err = outer.Wait(context.Background())
		require.NoError(t, err)
		assert.ErrorIs(t, nestedErr, crew.ErrQueueFull, "nested Submit on a full queue")
		var rej *crew.RejectedError
		assert.ErrorAs(t, nestedErr, &rej)
		require.NoError(t, p.Close(context.Background()))
	})
}

func TestPriorityQueueStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.NewPriorityPool[string](1)
		assert.Equal(t, crew.PriorityStats{}, emptyLevels(p.QueueStats()), "empty pool")
		blk := occupy(t, p)
		log := &callLog{}
		for _, s := range []struct {
			prio  int
			after time.Duration
		}{{-1, 0}, {4, time.Second}, {4, 0}, {0, time.Second}} {
			time.Sleep(s.after)
			_, err := p.Submit(crew.WithPriority(context.Background(), s.prio), log.job(""))
			require.NoError(t, err)
		}
		time.Sleep(time.Second)
		want := crew.PriorityStats{Queued: 4, OldestWait: 3 * time.Second, OldestPriority: -1, Levels: map[int]int{-1: 1, 0: 1, 4: 2}}
		assert.Equal(t, want, p.QueueStats())
		close(blk.release)
		require.NoError(t, p.Close(context.Background()))
		got := p.QueueStats()
		assert.Zero(t, got.Queued, "after Close")
		assert.Empty(t, got.Levels, "after Close")
	})
}

func TestPriorityMisuse(t *testing.T) {
	tests := []struct {
		name string
		give func()
	}{
		{"no workers", func() { crew.NewPriorityPool[int](0) }},
		{"negative aging", func() { crew.WithAging(-time.Nanosecond) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assertCrewPanic(t, tt.give) })
	}
}

// noPrio, in a list of priorities, stands for a ctx without WithPriority.
const noPrio = math.MinInt32

// prioCtx returns a ctx with priority p, or a plain one for p == noPrio.
func prioCtx(p int) context.Context {
	if p == noPrio {
		return context.Background()
	}
	return crew.WithPriority(context.Background(), p)
}

// checkOrder holds p's only worker, queues one job per priority in prios,
// and checks that they run by priority, highest first, and in submission
// order among equals (a ctx without a priority has 0).
func checkOrder(t *testing.T, p crew.Pool[string], prios []int) {
	t.Helper()
	type item struct {
		label string
		prio  int
	}
	blk := occupy(t, p)
	log := &callLog{}
	var items []item
	for i, pr := range prios {
		it := item{fmt.Sprintf("%d:%d", i, pr), pr}
		if pr == noPrio {
			it = item{fmt.Sprintf("%d:none", i), 0}
		}
		_, err := p.Submit(prioCtx(pr), log.job(it.label))
		require.NoError(t, err, "Submit(%s)", it.label)
		items = append(items, it)
	}
	slices.SortStableFunc(items, func(a, b item) int { return cmp.Compare(b.prio, a.prio) })
	var want []string
	for _, it := range items {
		want = append(want, it.label)
	}
	close(blk.release)
	require.NoError(t, p.Close(context.Background()))
	assert.Equal(t, want, log.take())
}

// emptyLevels returns s with an empty Levels map as nil, so that an empty
// queue's stats compare equal to the zero PriorityStats.
func emptyLevels(s crew.PriorityStats) crew.PriorityStats {
	if len(s.Levels) == 0 {
		s.Levels = nil
	}
	return s
}
