package crew_test

// The adaptive pool's worker count (guarantee 9): it starts with min, grows
// to max at once under a backlog, never leaves [min, max], and retires idle
// workers after the idle timeout; an idle pool at its minimum does nothing.
// Everything runs in testing/synctest bubbles: time is fake, never the
// oracle. The OnScale hook and the bounds under load are in
// adaptive_scale_test.go, the limit controller in adaptive_limit_test.go.

import (
	"context"
	"runtime"
	"runtime/metrics"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

func TestNewAdaptivePoolValidates(t *testing.T) {
	tests := []struct {
		name string
		give func()
	}{
		{"negative min", func() { crew.NewAdaptivePool[int](-1, 4) }},
		{"zero max", func() { crew.NewAdaptivePool[int](0, 0) }},
		{"max below min", func() { crew.NewAdaptivePool[int](5, 4) }},
		{"negative idle timeout", func() { crew.WithIdleTimeout(-time.Second) }},
		{"negative tolerance", func() { crew.WithLimitControl(crew.LimitConfig{Tolerance: -1}) }},
		{"error rate over 1", func() { crew.WithLimitControl(crew.LimitConfig{MaxErrorRate: 2}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { assertCrewPanic(t, tt.give) })
	}
	for _, tt := range []struct {
		name     string
		min, max int
	}{
		{"from zero to one", 0, 1},
		{"one", 1, 1},
		{"three to eight", 3, 8},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.NoError(t, crew.NewAdaptivePool[int](tt.min, tt.max).Close(context.Background()))
		})
	}
}

func TestAdaptiveStartsWithMin(t *testing.T) {
	tests := []struct {
		name     string
		min, max int
	}{
		{"from zero", 0, 4},
		{"three of eight", 3, 8},
		{"min is max", 4, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := crew.NewAdaptivePool[int](tt.min, tt.max, crew.WithIdleTimeout(time.Second))
				assert.Equal(t, tt.min, p.Stats().Workers, "at start")
				time.Sleep(time.Hour)
				synctest.Wait()
				assert.Equal(t, tt.min, p.Stats().Workers, "after an idle hour")
				assert.Equal(t, tt.max, p.Limit())
				require.NoError(t, p.Close(context.Background()))
			})
		})
	}
}

func TestAdaptiveScalesToMaxWithin100ms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.NewAdaptivePool[int](1, 32)
		blk := newBlocker()
		start := time.Now()
		fs := submitN(t, p, 200, blk.job)
		for p.Stats().Busy < 32 && time.Since(start) <= 100*time.Millisecond {
			time.Sleep(time.Millisecond)
		}
		s := p.Stats()
		assert.Equal(t, 32, s.Workers, "after %v of fake time: %+v", time.Since(start), s)
		assert.Equal(t, 32, s.Busy, "after %v of fake time: %+v", time.Since(start), s)
		close(blk.release)
		waitAll(t, fs)
		require.NoError(t, p.Close(context.Background()))
	})
}

func TestAdaptiveBackToMinAfterIdleTimeout(t *testing.T) {
	tests := []struct {
		name string
		give []crew.Option
		idle time.Duration // 0: never
		want int           // workers after the idle timeout
	}{
		{"1s", []crew.Option{crew.WithIdleTimeout(time.Second)}, time.Second, 2},
		{"default", nil, crew.DefaultIdleTimeout, 2},
		{"never", []crew.Option{crew.WithIdleTimeout(0)}, 0, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := crew.NewAdaptivePool[int](2, 16, tt.give...)
				blk := newBlocker()
				fs := submitN(t, p, 16, blk.job)
				synctest.Wait()
				close(blk.release)
				waitAll(t, fs)
				synctest.Wait()
				wait := tt.idle
				if wait == 0 {
					wait = time.Hour
				}
				time.Sleep(wait - time.Millisecond)
				synctest.Wait()
				assert.Equal(t, 16, p.Stats().Workers, "just before the idle timeout")
				time.Sleep(time.Millisecond)
				synctest.Wait()
				assert.Equal(t, tt.want, p.Stats().Workers, "after the idle timeout")
				require.NoError(t, p.Close(context.Background()))
			})
		})
	}
}

// TestAdaptiveIdleAtMinDoesNothing: an idle pool at its minimum uses no CPU.
// Its workers wait on their wake channels alone and keep no idle timer; a
// worker that armed its timer whenever it parked, or re-armed it whenever
// it found it could not retire, woke the pool once per idle timeout for
// ever. In a hundred idle hours of fake time (360,000 idle timeouts) no
// goroutine may be created (a timer's callback runs on a new one), and no
// goroutine scheduled more than the test's own few times (a worker woken
// by a timer channel would be).
//
// The runtime counts for the whole process, and may start goroutines of its
// own meanwhile (its first GC starts one worker per processor), so a fresh
// pool gets three tries: one that wakes does so in every try.
func TestAdaptiveIdleAtMinDoesNothing(t *testing.T) {
	const idle = 100 * time.Hour
	var created, scheduled uint64
	for range 3 {
		created, scheduled = idleAtMin(t, idle)
		if created == 0 && scheduled < uint64(idle/time.Hour) {
			break
		}
	}
	assert.Zero(t, created, "goroutines created in an idle pool")
	assert.Less(t, scheduled, uint64(idle/time.Hour),
		"goroutines scheduled in an idle pool: fewer than one an hour, where a worker woken once per idle timeout is 3,600")
}

// idleAtMin lets an adaptive pool shrink to its minimum, then idle for
// the given fake time, and returns the goroutines created and scheduled
// meanwhile (see schedCounts).
func idleAtMin(t *testing.T, idle time.Duration) (created, scheduled uint64) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.NewAdaptivePool[int](2, 8, crew.WithIdleTimeout(time.Second))
		waitAll(t, submitN(t, p, 8, func(context.Context) (int, error) {
			time.Sleep(time.Millisecond)
			return 0, nil
		}))
		time.Sleep(time.Second + time.Millisecond) // the surplus retires, the minimum stays
		synctest.Wait()                            // returns: nothing in the bubble is busy
		require.Equal(t, 2, p.Stats().Workers, "idle workers, want the minimum")
		created0, scheduled0 := schedCounts()
		time.Sleep(idle)
		synctest.Wait()
		created, scheduled = schedCounts()
		created, scheduled = created-created0, scheduled-scheduled0
		assert.Equal(t, 2, p.Stats().Workers)
		require.NoError(t, p.Close(context.Background()))
	})
	return created, scheduled
}

// schedCounts reads how many goroutines the process has created, and a
// count of goroutine schedulings (the runtime samples one in eight of each
// goroutine's, so a goroutine woken n times adds about n/8).
func schedCounts() (created, scheduled uint64) {
	s := []metrics.Sample{
		{Name: "/sched/goroutines-created:goroutines"},
		{Name: "/sched/latencies:seconds"},
	}
	metrics.Read(s)
	for _, n := range s[1].Value.Float64Histogram().Counts {
		scheduled += n
	}
	return s[0].Value.Uint64(), scheduled
}

// TestAdaptiveIdleTimeoutCountsFromLastJob: the idle timer is left running
// across short jobs (to save a timer operation per job); a worker must still
// retire a full idle timeout after its last job, not when a timer armed in
// an earlier idle spell fires.
func TestAdaptiveIdleTimeoutCountsFromLastJob(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.NewAdaptivePool[int](0, 1, crew.WithIdleTimeout(time.Second))
		waitAll(t, submitN(t, p, 1, value(0))) // idle from 0s, timer due at 1s
		time.Sleep(600 * time.Millisecond)
		waitAll(t, submitN(t, p, 1, value(0))) // idle again from 0.6s
		time.Sleep(time.Second - time.Millisecond)
		synctest.Wait()
		assert.Equal(t, 1, p.Stats().Workers, "0.999s after the last job")
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		assert.Zero(t, p.Stats().Workers, "1.001s after the last job")
		require.NoError(t, p.Close(context.Background()))
	})
}

// TestAdaptiveSimultaneousExpiryKeepsMin: when many idle timers fire at the
// same instant, the decisions to retire must not count workers that are
// already on their way out, or the pool falls below its minimum.
func TestAdaptiveSimultaneousExpiryKeepsMin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.NewAdaptivePool[int](2, 64, crew.WithIdleTimeout(time.Second))
		for cycle := range 20 {
			blk := newBlocker()
			fs := submitN(t, p, 64, blk.job)
			synctest.Wait()
			close(blk.release) // all 64 park at the same instant
			waitAll(t, fs)
			time.Sleep(2 * time.Second)
			synctest.Wait()
			require.Equal(t, 2, p.Stats().Workers, "cycle %d: after the idle timeout, want min", cycle)
		}
		require.NoError(t, p.Close(context.Background()))
	})
}

// TestAdaptiveGoexitKeepsMin: a job that ends its worker with
// runtime.Goexit does not take the pool below its minimum.
func TestAdaptiveGoexitKeepsMin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.NewAdaptivePool[int](2, 4)
		_, err := crew.Do(context.Background(), p, func(context.Context) (int, error) {
			runtime.Goexit()
			return 0, nil
		})
		var pe *crew.PanicError
		assert.ErrorAs(t, err, &pe)
		synctest.Wait()
		assert.Equal(t, 2, p.Stats().Workers, "after a Goexit, want min")
		require.NoError(t, p.Close(context.Background()))
	})
}
