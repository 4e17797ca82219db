package crew

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBreakerHammerProbes runs many goroutines through the Guard methods,
// with Trip and Reset mixed in, under the race detector, with and without
// RampUp, and checks by the permits handed out that no generation ever runs
// more than HalfOpenMaxRequests probes at a time, that probes did run, that
// OnStateChange was called one change at a time and in order (each change
// starts where the previous one ended, and the last ends in the final
// state), and that the counters add up.
func TestBreakerHammerProbes(t *testing.T) {
	for _, ramp := range []time.Duration{0, 50 * time.Microsecond} {
		t.Run(fmt.Sprintf("RampUp=%v", ramp), func(t *testing.T) { hammerProbes(t, ramp) })
	}
}

func hammerProbes(t *testing.T, ramp time.Duration) {
	const max = 3
	var b *Breaker
	var hookMu sync.Mutex // held only to read the log; the hook checks it is alone
	var inHook atomic.Int32
	var changes [][2]CircuitState
	b = NewBreaker(BreakerConfig{
		FailureThreshold: 2, HalfOpenMaxRequests: max, ResetTimeout: time.Microsecond,
		ProbeTimeout: time.Hour, RampUp: ramp,
		OnStateChange: func(from, to CircuitState) {
			if inHook.Add(1) != 1 {
				assert.Fail(t, "two OnStateChange calls at once")
			}
			_ = b.Stats() // a hook may read the breaker
			hookMu.Lock()
			changes = append(changes, [2]CircuitState{from, to})
			hookMu.Unlock()
			inHook.Add(-1)
		},
	})
	var mu sync.Mutex
	running := map[Ticket]int{} // probes running, by generation
	var worst, total atomic.Int32
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 3000 {
				switch {
				case g == 0 && i%50 == 0:
					b.Trip()
				case g == 1 && i%70 == 0:
					b.Reset()
				default:
					adm, err := b.Admit(ctx)
					if err != nil {
						continue
					}
					if i%11 == 0 {
						b.Abandon(adm)
						continue
					}
					tk, err := b.Start(ctx, adm)
					if err != nil {
						continue
					}
					gen := tk &^ 3
					if tk&3 == ticketProbe {
						mu.Lock()
						running[gen]++
						n := running[gen]
						mu.Unlock()
						total.Add(1)
						for w := worst.Load(); int32(n) > w && !worst.CompareAndSwap(w, int32(n)); w = worst.Load() {
						}
					}
					// The probe ends when Done is called: Done may free its
					// slot for the next one at once.
					if tk&3 == ticketProbe {
						mu.Lock()
						running[gen]--
						mu.Unlock()
					}
					errs := []error{nil, errors.New("boom"), context.Canceled}
					b.Done(tk, errs[i%3], 0)
				}
			}
		})
	}
	wg.Wait()
	assert.LessOrEqual(t, worst.Load(), int32(max), "probes of one generation at once")
	require.Positive(t, total.Load(), "no probe ran: the test checked nothing")

	final := b.Stats() // delivers anything still waiting
	hookMu.Lock()
	defer hookMu.Unlock()
	require.NotEmpty(t, changes)
	assert.Equal(t, StateClosed, changes[0][0], "the first change starts closed")
	for i := 1; i < len(changes); i++ {
		require.Equal(t, changes[i-1][1], changes[i][0], "change %d starts where change %d ended: %v", i, i-1, changes[i-1:i+1])
	}
	assert.Equal(t, final.State, changes[len(changes)-1][1], "the last change ends in the final state")
	assert.Equal(t, final.Trips, uint64(countTo(changes, StateOpen)), "Trips counts the changes to open")
	assert.GreaterOrEqual(t, final.Probes, final.ProbeSuccesses+final.ProbeFailures)
	assert.Equal(t, uint64(0), final.CallbackPanics)
}

func countTo(changes [][2]CircuitState, s CircuitState) int {
	n := 0
	for _, c := range changes {
		if c[1] == s {
			n++
		}
	}
	return n
}

// TestGuardsHammer submits, cancels, panics and closes concurrently through
// Chain(pool, limiter, breaker), and then checks the books: every accepted
// job resolved, the pool's counters add up, the limiter's backlog is empty
// (each admitted job reached Start or Abandon once) and the breaker holds
// no reserved probe slot.
func TestGuardsHammer(t *testing.T) {
	l := NewRateLimiter(200_000, 20, WithMaxWait(time.Millisecond))
	b := NewBreaker(BreakerConfig{FailureThreshold: 3, ResetTimeout: 200 * time.Microsecond, HalfOpenMaxRequests: 2})
	p := Chain[int](NewPool[int](4, WithQueueSize(16)), l, b)
	var mu sync.Mutex
	var futures []*Future[int]
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 400 {
				ctx, cancel := context.WithCancel(context.Background())
				f, err := p.Submit(ctx, func(ctx context.Context) (int, error) {
					switch (g + i) % 7 {
					case 0:
						return 0, errors.New("boom")
					case 1:
						panic("boom")
					case 2:
						return 0, ctx.Err()
					}
					return i, nil
				})
				if i%5 == 0 {
					cancel()
				}
				if err == nil {
					mu.Lock()
					futures = append(futures, f)
					mu.Unlock()
				} else if _, ok := errors.AsType[*RejectedError](err); !ok && !errors.Is(err, ErrClosed) && !errors.Is(err, context.Canceled) {
					assert.Fail(t, "Submit: unexpected error", "%v", err)
				}
				if g == 0 && i == 300 {
					go p.Close(context.Background()) // races the other Submits
				}
				defer cancel()
			}
		})
	}
	wg.Wait()
	require.NoError(t, p.Close(context.Background()))
	for _, f := range futures {
		_, ok := f.Result()
		require.True(t, ok, "an accepted job never resolved")
	}
	s := p.Stats()
	assert.Equal(t, s.Submitted, s.Completed+s.Canceled, "stats do not add up: %+v", s)
	assert.Equal(t, uint64(len(futures)), s.Submitted)
	assert.Zero(t, l.Stats().Pending, "the limiter's backlog after Close")
	b.mu.Lock()
	reserved := b.reserved
	b.mu.Unlock()
	assert.Zero(t, reserved, "reserved probe slots after Close")
}

// TestBreakerClosedPathTakesNoLock: while closed, Admit, Start and a
// successful Done go through with the Breaker's mutex held by someone else.
// (The deadline only stops a hang: the path either never waits or waits
// forever.)
func TestBreakerClosedPathTakesNoLock(t *testing.T) {
	b := NewBreaker(BreakerConfig{})
	ctx := context.Background()
	b.mu.Lock()
	defer b.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			adm, err := b.Admit(ctx)
			assert.NoError(t, err)
			tk, err := b.Start(ctx, adm)
			assert.NoError(t, err)
			b.Done(tk, nil, 0)
			_ = b.State()
		}
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		require.Fail(t, "the closed path waited for the lock")
	}
}
