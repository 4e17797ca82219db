package crew_test

// Aging: a queued job's wait is bounded under a constant stream of
// higher-priority work (guarantee 6), and the wait counts from when the job
// is queued.

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

// TestPriorityAgingBound checks the bound WithAging documents, to the
// millisecond: under a constant stream of priority-q work that keeps one
// worker saturated, a job of priority p = 0 queued at t is overtaken
// exactly by the q-work queued before t + (q-p)*step, and by none after.
// In strict mode it waits for the whole stream.
func TestPriorityAgingBound(t *testing.T) {
	const q = 5 // the stream's priority; the waiting job has 0
	tests := []struct {
		name string
		opts []crew.Option
		step time.Duration // 0: strict, the job starves while the stream lasts
	}{
		{name: "step 10ms", opts: []crew.Option{crew.WithAging(10 * time.Millisecond)}, step: 10 * time.Millisecond},
		{name: "default step", step: crew.DefaultAgingStep},
		{name: "strict", opts: []crew.Option{crew.WithAging(0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := crew.NewPriorityPool[string](1, tt.opts...)
				start := time.Now()
				at := func() time.Duration { return time.Since(start) }
				bound := time.Duration(q) * tt.step
				streamFor := bound + 200*time.Millisecond
				if tt.step == 0 {
					streamFor = 200 * time.Millisecond
				}

				var mu sync.Mutex
				var lowStarted bool
				var before, after []time.Duration // queue times of q-jobs that started before/after the low job
				high := func(queued time.Duration) crew.Job[string] {
					return func(context.Context) (string, error) {
						mu.Lock()
						if lowStarted {
							after = append(after, queued)
						} else {
							before = append(before, queued)
						}
						mu.Unlock()
						time.Sleep(time.Millisecond) // the work
						return "high", nil
					}
				}
				var lowQueued, lowWait time.Duration
				low := func(context.Context) (string, error) {
					mu.Lock()
					lowStarted, lowWait = true, at()-lowQueued
					mu.Unlock()
					return "low", nil
				}
				// Two q-jobs a millisecond, each running for one: the worker
				// never idles and the backlog grows all along.
				hi := crew.WithPriority(context.Background(), q)
				for at() < streamFor {
					for range 2 {
						_, err := p.Submit(hi, high(at()))
						require.NoError(t, err)
					}
					if at() == 10*time.Millisecond {
						lowQueued = at()
						_, err := p.Submit(context.Background(), low)
						require.NoError(t, err)
					}
					time.Sleep(time.Millisecond)
				}
				require.NoError(t, p.Close(context.Background()))

				require.True(t, lowStarted, "the low job never ran")
				if tt.step == 0 {
					assert.Empty(t, after, "strict: the low job ran before queued high jobs")
					return
				}
				require.NotEmpty(t, after, "the low job starved: it ran after the whole stream, %v after it was queued", lowWait)
				limit := lowQueued + bound
				assert.Equal(t, limit-time.Millisecond, slices.Max(before),
					"the last high job to overtake must be queued just before t+(q-p)*step = %v", limit)
				assert.GreaterOrEqual(t, slices.Min(after), limit, "a high job queued before t+(q-p)*step ran after the low job")
				t.Logf("low job queued at %v waited %v; %d high jobs overtook it, bound (q-p)*step = %v", lowQueued, lowWait, len(before), bound)
			})
		})
	}
}

// TestPriorityBlockedSubmitEarnsNoAging: a Submit blocked on a full queue
// earned aging while it waited for room, and overtook a higher-priority job
// queued at the same instant. It is not queued yet: its wait, for aging,
// starts when it is queued (PriorityPool.Submit's doc).
func TestPriorityBlockedSubmitEarnsNoAging(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.NewPriorityPool[string](1, crew.WithQueueSize(2), crew.WithAging(10*time.Millisecond))
		log := &callLog{}
		blk := occupy(t, p)
		fillCtx, cancelFill := context.WithCancel(crew.WithPriority(context.Background(), 10))
		for range 2 {
			_, err := p.Submit(fillCtx, log.job("fill"))
			require.NoError(t, err)
		}
		submitted := make(chan error, 2)
		submit := func(prio int, label string) {
			_, err := p.Submit(crew.WithPriority(context.Background(), prio), log.job(label))
			submitted <- err
		}
		go submit(0, "X-prio0") // blocks at t=0
		synctest.Wait()
		time.Sleep(time.Second) // X's Submit waits for room
		go submit(5, "H-prio5")
		synctest.Wait()
		cancelFill() // room for both waiters, queued at the same instant
		require.NoError(t, <-submitted)
		require.NoError(t, <-submitted)
		close(blk.release)
		require.NoError(t, p.Close(context.Background()))
		assert.Equal(t, []string{"H-prio5", "X-prio0"}, log.take(), "X was queued when H was, 5 levels lower")
	})
}
