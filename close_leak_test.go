package crew

// Close leaves no goroutine of the pool behind (guarantee 2): a ctx watcher
// or a timer callback that fired as Close finished must be waited for, or
// it runs after Close returned. Such a goroutine would exit a moment later,
// so these tests hold the pool's lock while they look for goroutines left:
// a callback that Close did not wait for needs that lock and stays to be
// found, while one that Close waited for has nothing left to do and exits.
// The windows are narrow: each test runs many rounds, and a missing wait
// shows in some of them (how often is said beside each test).

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

const leakRounds = 2000

// TestCloseWaitsForCtxWatcherThatFired: a queued job's ctx ends just as
// Close gives up on the job, so its ctx watcher has fired and waits for the
// pool's lock while Close returns. Without the wait, a run finds it within
// a few dozen rounds.
func TestCloseWaitsForCtxWatcherThatFired(t *testing.T) {
	before, base := goleak.IgnoreCurrent(), runtime.NumGoroutine()
	for round := range leakRounds {
		p := NewPool[int](1, WithQueueSize(4))
		blk := newBlocker()
		submitN(t, p, 1, blk.job)
		<-blk.started
		ctx, cancel := context.WithCancel(context.Background())
		f, err := p.Submit(ctx, func(context.Context) (int, error) { return 1, nil })
		require.NoError(t, err)
		ended, end := context.WithCancel(context.Background())
		end()
		cancelled := endSoon(cancel, round%2 == 1)
		err = p.Close(ended) // gives up on the queued job while its ctx ends
		assert.ErrorIs(t, err, context.Canceled, "round %d", round)
		require.True(t, f.isResolved(), "round %d: a Future unresolved after Close returned", round)
		<-cancelled
		p.e.mu.Lock()
		err = goroutinesLeft(base, before)
		p.e.mu.Unlock()
		require.NoError(t, err, "round %d: a goroutine of the pool outlived Close", round)
	}
}

// TestBatcherCloseWaitsForItsCallbacks: when Close returns, no ctx watcher
// (an item leaving) and no timer callback (a batch falling due) of the
// Batcher is still to run: a watcher that fires as its item is cut or given
// up on, or a timer that fires as the Batcher drains, must be waited for.
// Without the wait for watchers, a run finds it within a few dozen rounds;
// without the wait for the timer, most runs (7 in 8) find it.
func TestBatcherCloseWaitsForItsCallbacks(t *testing.T) {
	fn := func(_ context.Context, items []int) ([]int, error) { return items, nil }
	before, base := goleak.IgnoreCurrent(), runtime.NumGoroutine()
	for round := range leakRounds {
		b := NewBatcher(fn, WithBatchSize(1+round%2), WithBatchWait(time.Duration(round%3)*time.Microsecond))
		ctx, cancel := context.WithCancel(context.Background())
		f, err := b.Submit(ctx, round)
		require.NoError(t, err)
		cancelled := endSoon(cancel, round/4%2 == 1)
		if round%4 == 0 {
			ended, end := context.WithCancel(context.Background())
			end()
			// Gives up on the pending item while its ctx ends, unless it
			// left first.
			if err := b.Close(ended); err != nil {
				assert.ErrorIs(t, err, context.Canceled, "round %d", round)
			}
		} else {
			require.NoError(t, b.Close(context.Background()), "round %d", round)
		}
		require.True(t, f.isResolved(), "round %d: a Future unresolved after Close returned", round)
		<-cancelled
		b.mu.Lock()
		err = goroutinesLeft(base, before)
		b.mu.Unlock()
		require.NoError(t, err, "round %d: a goroutine of the Batcher outlived Close", round)
	}
}

// TestCloseWaitsForIdleTimerThatFired: an adaptive pool's idle worker is
// retired by Close just as its idle timer fires, so the timer's callback
// waits for the pool's lock while Close returns. Close comes from 11µs
// before to 4µs after the timer is due, spinning (sleeps are too coarse).
// Without the wait, a run with -race finds it within a few dozen rounds,
// and most runs without -race (3 in 4).
func TestCloseWaitsForIdleTimerThatFired(t *testing.T) {
	const idle = 20 * time.Microsecond
	before, base := goleak.IgnoreCurrent(), runtime.NumGoroutine()
	for round := range leakRounds {
		p := NewAdaptivePool[int](0, 1, WithIdleTimeout(idle))
		waitAll(t, submitN(t, p, 1, func(context.Context) (int, error) { return 1, nil }))
		parked := time.Now() // the worker armed its timer as it resolved the job
		for closeAt := idle + 4*time.Microsecond - time.Duration(round%16)*time.Microsecond; time.Since(parked) < closeAt; {
		}
		require.NoError(t, p.Close(context.Background()), "round %d", round)
		p.e.mu.Lock()
		err := goroutinesLeft(base, before)
		p.e.mu.Unlock()
		require.NoError(t, err, "round %d: a goroutine of the pool outlived Close", round)
	}
}

// endSoon ends a ctx with cancel, now or on a goroutine of its own, so that
// its watcher fires just before or while Close runs. The channel returned is
// closed once cancel has returned.
func endSoon(cancel context.CancelFunc, now bool) <-chan struct{} {
	cancelled := make(chan struct{})
	if now {
		cancel()
		close(cancelled)
		return cancelled
	}
	go func() {
		cancel()
		close(cancelled)
	}()
	return cancelled
}

// goroutinesLeft waits, for up to a few seconds, until no more goroutines
// are alive than the base count taken before the test began, and returns
// nil; or, if some stay, an error that lists the goroutines that were not
// there before. It gives goroutines on their way out the time to exit.
func goroutinesLeft(base int, before goleak.Option) error {
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			if err := goleak.Find(before); err != nil {
				return err
			}
			return fmt.Errorf("%d goroutines alive, %d before the test", runtime.NumGoroutine(), base)
		}
		runtime.Gosched()
	}
	return nil
}
