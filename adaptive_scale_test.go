package crew_test

// The adaptive pool's scale events (WithOnScale), and its bounds under a
// load that moves the worker count and the limit (guarantee 9).

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

func TestAdaptiveOnScale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type event struct{ workers, limit int }
		var (
			mu     sync.Mutex
			events []event
			p      *crew.AdaptivePool[int]
			calls  atomic.Int32
		)
		p = crew.NewAdaptivePool[int](1, 4, crew.WithIdleTimeout(time.Second), crew.WithOnScale(func(workers, limit int) {
			// Calling back into the pool must not deadlock: the hook runs
			// outside the pool's lock.
			_ = p.Stats()
			assert.Equal(t, limit, p.Limit(), "OnScale's limit and Limit()")
			if calls.Add(1) == 1 {
				_, err := p.Submit(context.Background(), value(0))
				assert.NoError(t, err, "Submit from OnScale")
			}
			mu.Lock()
			events = append(events, event{workers, limit})
			mu.Unlock()
		}))
		blk := newBlocker()
		fs := submitN(t, p, 4, blk.job)
		synctest.Wait()
		close(blk.release)
		waitAll(t, fs)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		mu.Lock()
		got := append([]event(nil), events...)
		mu.Unlock()
		require.GreaterOrEqual(t, len(got), 2, "events %v: want growth and shrinking", got)
		peak := 0
		for _, e := range got {
			peak = max(peak, e.workers)
		}
		assert.Equal(t, 4, peak, "events %v: the peak", got)
		assert.Equal(t, event{1, 4}, got[len(got)-1], "events %v: the hook must end on the latest state", got)
		require.NoError(t, p.Close(context.Background()))
	})
}

// TestAdaptiveCloseWaitsForOnScale: a hook running when Close is called
// finishes before Close returns, so no hook runs after it.
func TestAdaptiveCloseWaitsForOnScale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var inHook atomic.Bool
		p := crew.NewAdaptivePool[int](0, 2, crew.WithIdleTimeout(time.Second), crew.WithOnScale(func(workers, _ int) {
			if workers == 0 {
				inHook.Store(true)
				<-release
				inHook.Store(false)
			}
		}))
		waitAll(t, submitN(t, p, 1, value(0)))
		time.Sleep(2 * time.Second) // the worker retires; the hook blocks
		synctest.Wait()
		require.True(t, inHook.Load(), "the hook did not see the pool shrink to 0")
		closed := make(chan error)
		go func() { closed <- p.Close(context.Background()) }()
		synctest.Wait()
		assert.False(t, received(closed), "Close returned while OnScale was running")
		close(release)
		require.NoError(t, <-closed)
		assert.False(t, inHook.Load(), "OnScale still running after Close")
	})
}

// TestAdaptiveBoundsUnderLoad hammers Submit with jobs of random length and
// cancelled contexts, under a controller moving the limit, while samplers
// read Stats and Limit: workers stay within [min, max], busy within the
// workers, and the hook sees the same bounds.
func TestAdaptiveBoundsUnderLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const lo, hi = 3, 12
		var bad atomic.Value // the first bound broken, as text
		fail := func(format string, args ...any) { bad.CompareAndSwap(nil, fmt.Sprintf(format, args...)) }
		p := crew.NewAdaptivePool[int](lo, hi,
			crew.WithIdleTimeout(5*time.Millisecond),
			crew.WithQueueSize(8),
			crew.WithLimitControl(crew.LimitConfig{}),
			crew.WithOnScale(func(workers, limit int) {
				if workers < lo || workers > hi || limit < lo || limit > hi {
					fail("OnScale(%d, %d) out of [%d, %d]", workers, limit, lo, hi)
				}
			}))
		stop := make(chan struct{})
		var samplers sync.WaitGroup
		for range 2 {
			samplers.Go(func() {
				for {
					s, l := p.Stats(), p.Limit()
					if s.Workers < lo || s.Workers > hi || s.Busy > s.Workers || l < lo || l > hi {
						fail("Stats %+v, Limit %d out of [%d, %d]", s, l, lo, hi)
					}
					select {
					case <-stop:
						return
					default:
						time.Sleep(50 * time.Microsecond)
					}
				}
			})
		}
		var load sync.WaitGroup
		var accepted atomic.Int64
		for c := range 16 {
			load.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(c), 1))
				for range 300 {
					ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rng.IntN(20))*time.Millisecond)
					d := time.Duration(rng.IntN(3000)) * time.Microsecond
					f, err := p.Submit(ctx, func(ctx context.Context) (int, error) {
						time.Sleep(d)
						return 0, ctx.Err()
					})
					if err == nil {
						accepted.Add(1)
						f.Wait(context.Background()) // its own outcome or its ctx's end
					}
					cancel()
					if rng.IntN(10) == 0 {
						time.Sleep(20 * time.Millisecond) // let the pool shrink
					}
				}
			})
		}
		load.Wait()
		close(stop)
		samplers.Wait()
		assert.Nil(t, bad.Load(), "a bound broken")
		require.NoError(t, p.Close(context.Background()))
		s := p.Stats()
		assert.Equal(t, uint64(accepted.Load()), s.Submitted)
		assert.Equal(t, s.Submitted, s.Completed+s.Canceled, "%+v", s)
		assert.Zero(t, s.Workers)
	})
}
