package crew_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

// TestBreakerRefusalsSpreadRetryAfter: n callers refused at the same moment
// are told to come back at moments spread evenly over RetrySpread: refused
// while open, over [half-open, half-open+RetrySpread); refused while
// half-open, over (now, now+RetrySpread]; in both cases no two alike (for
// n >= 2) and no gap wider than 2/n of the spread, as documented.
func TestBreakerRefusalsSpreadRetryAfter(t *testing.T) {
	const reset, spread = 10 * time.Second, 4 * time.Second
	for _, n := range []int{1, 2, 3, 10, 162, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := crew.NewBreaker(crew.BreakerConfig{ResetTimeout: reset, RetrySpread: spread})
				b.Trip()
				time.Sleep(3 * time.Second)
				halfOpenAt := time.Now().Add(reset - 3*time.Second)
				var offsets []time.Duration // of each return, from the start of its interval
				for range n {
					re := refusal(t, b.Execute(context.Background(), succeed))
					offsets = append(offsets, time.Now().Add(re.RetryAfter).Sub(halfOpenAt))
				}
				checkSpread(t, "open", offsets, spread)

				time.Sleep(reset - 3*time.Second)
				release := make(chan struct{})
				defer close(release) // also when a check fails
				go func() { _ = b.Execute(context.Background(), func(context.Context) error { <-release; return nil }) }()
				synctest.Wait() // the probe holds the one slot
				offsets = offsets[:0]
				for range n {
					re := refusal(t, b.Execute(context.Background(), succeed))
					require.Positive(t, re.RetryAfter, "half-open")
					offsets = append(offsets, spread-re.RetryAfter) // (0, spread] -> [0, spread)
				}
				checkSpread(t, "half-open", offsets, spread)
			})
		})
	}
}

// refusal returns err as the Breaker's *RejectedError.
func refusal(t *testing.T, err error) *crew.RejectedError {
	t.Helper()
	re, ok := errors.AsType[*crew.RejectedError](err)
	require.True(t, ok, "not a refusal: %v", err)
	require.ErrorIs(t, err, crew.ErrCircuitOpen)
	return re
}

// checkSpread checks that offsets lie in [0, spread), are all different,
// and leave no gap (the ends of the interval included) wider than
// 2*spread/n.
func checkSpread(t *testing.T, what string, offsets []time.Duration, spread time.Duration) {
	t.Helper()
	n := len(offsets)
	s := slices.Sorted(slices.Values(offsets))
	require.GreaterOrEqual(t, s[0], time.Duration(0), "%s: a return before its interval", what)
	require.Less(t, s[n-1], spread, "%s: a return after its interval", what)
	assert.Len(t, slices.Compact(slices.Clone(s)), n, "%s: two callers told to come back at the same moment", what)
	widest := max(s[0], spread-s[n-1])
	for i := 1; i < n; i++ {
		widest = max(widest, s[i]-s[i-1])
	}
	assert.LessOrEqual(t, widest, 2*spread/time.Duration(n)+1, "%s: the widest gap between returns, of %d", what, n)
}

// recoveringService is the downstream of the backlog tests: down (every call
// fails after 5ms) during [down, up), then cold for a while: it serves at
// most capacity(t) calls at once and fails the others at once, as an
// overloaded server does. Calls take 5ms.
type recoveringService struct {
	t0        time.Time
	down, up  time.Duration
	capacity  func(sinceUp time.Duration) int32
	inFlight  atomic.Int32
	overloads atomic.Int32
}

var (
	errUnavailable = errors.New("503: down")
	errOverloaded  = errors.New("503: overloaded")
)

func (s *recoveringService) call(context.Context) (int, error) {
	now := time.Since(s.t0)
	if now >= s.down && now < s.up {
		time.Sleep(5 * time.Millisecond)
		return 0, errUnavailable
	}
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	if now >= s.up && n > s.capacity(now-s.up) {
		s.overloads.Add(1)
		return 0, errOverloaded
	}
	time.Sleep(5 * time.Millisecond)
	return 1, nil
}

// refusalLog records each refusal a client saw: when, the state then, and
// when it was told to come back.
type refusalLog struct {
	mu   sync.Mutex
	list []refusalSeen
}

type refusalSeen struct {
	state     crew.CircuitState
	openUntil time.Time // the circuit's, while open
	back      time.Time // now + RetryAfter
}

func (l *refusalLog) add(r refusalSeen) {
	l.mu.Lock()
	l.list = append(l.list, r)
	l.mu.Unlock()
}

// TestBreakerBacklogDrainsAfterRecovery is the trial from the issue that
// asked for the spread: a priority pool of 8 behind a Breaker, 300 jobs
// submitted at once by clients that retry up to 8 times, honouring
// RetryAfter as crew's Retry does (guarantee 13; back-off 50ms after a
// downstream error). The downstream is down for 0.6s, then cold for 3s:
// it serves at most 5 calls at once.
//
// When the circuit opens, the whole queue is refused at start at once. With
// this Breaker's RetryAfters the clients come back spread over the
// following RetrySpread: the first becomes the probe, closes the circuit,
// and the rest trickle in at a pace the cold downstream serves: one trip,
// few half-open refusals, no overload, every job done within
// 2*RetrySpread of half-open. The "herd" run replays the same trial with
// the RetryAfter the Breaker used to give (the time left open, the same for
// every client; 0 while half-open, so the client's back-off): everyone
// comes back at once, the half-open round refuses all but one, they come
// back together again, overload the cold downstream, and the circuit trips
// a second time.
func TestBreakerBacklogDrainsAfterRecovery(t *testing.T) {
	for _, herd := range []bool{false, true} {
		t.Run(map[bool]string{false: "spread", true: "herd"}[herd], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { backlogTrial(t, herd) })
		})
	}
}

func backlogTrial(t *testing.T, herd bool) {
	const (
		jobs        = 300
		attempts    = 8
		reset       = 2 * time.Second
		spread      = reset / 2 // the default RetrySpread
		clientPause = 50 * time.Millisecond
	)
	svc := &recoveringService{t0: time.Now(), down: 50 * time.Millisecond, up: 650 * time.Millisecond,
		capacity: func(sinceUp time.Duration) int32 {
			if sinceUp < 3*time.Second {
				return 5
			}
			return 1 << 30
		}}
	b, log := newLoggedBreaker(crew.BreakerConfig{FailureThreshold: 5, ResetTimeout: reset})
	p := crew.Chain(crew.NewPriorityPool[int](8), b)
	var refusals refusalLog
	var ok, lost atomic.Int32
	var lastDone atomic.Int64 // ns since t0
	var wg sync.WaitGroup
	for range jobs {
		wg.Go(func() {
			for range attempts {
				_, err := crew.Do(context.Background(), p, svc.call)
				if err == nil {
					ok.Add(1)
					lastDone.Store(max(lastDone.Load(), int64(time.Since(svc.t0))))
					return
				}
				wait := clientPause
				if re, is := errors.AsType[*crew.RejectedError](err); is {
					s := b.Stats() // at the moment of the refusal: time stands still in the bubble
					refusals.add(refusalSeen{state: s.State, openUntil: s.OpenUntil, back: time.Now().Add(re.RetryAfter)})
					wait = re.RetryAfter
					if herd { // what the Breaker used to say
						wait = clientPause
						if s.State == crew.StateOpen {
							wait = time.Until(s.OpenUntil)
						}
					}
				}
				time.Sleep(wait)
			}
			lost.Add(1)
		})
	}
	wg.Wait()
	closePool(t, p)
	s := b.Stats()

	t.Logf("herd=%v: ok %d lost %d trips %d overloads %d refusals %d last done %v", herd, ok.Load(), lost.Load(), s.Trips, svc.overloads.Load(), len(refusals.list), time.Duration(lastDone.Load()))
	if herd {
		assert.GreaterOrEqual(t, s.Trips, uint64(2), "the herd trips the circuit again")
		assert.Positive(t, svc.overloads.Load(), "the herd overloads the cold downstream")
		return
	}
	assert.Equal(t, int32(jobs), ok.Load(), "every job done")
	assert.Zero(t, lost.Load())
	assert.Equal(t, uint64(1), s.Trips, "no second trip")
	assert.Equal(t, []string{"closed->open (open)", "open->half-open (half-open)", "half-open->closed (closed)"}, log.get())
	assert.Zero(t, svc.overloads.Load(), "the cold downstream was never overloaded")

	var openUntil time.Time
	var backs []time.Duration
	halfOpenRefusals := 0
	for _, r := range refusals.list {
		switch r.state {
		case crew.StateOpen:
			if openUntil.IsZero() {
				openUntil = r.openUntil
			}
			require.Equal(t, openUntil, r.openUntil, "one open period")
			backs = append(backs, r.back.Sub(openUntil))
		case crew.StateHalfOpen:
			halfOpenRefusals++
		}
	}
	require.Greater(t, len(backs), jobs/2, "most of the backlog was refused while open")
	checkSpread(t, "refused while open", backs, spread)
	assert.LessOrEqual(t, halfOpenRefusals, jobs/20, "half-open refused few: the clients came back one by one")
	halfOpen := openUntil.Sub(svc.t0)
	t.Logf("half-open at %v, %d open refusals, %d half-open refusals", halfOpen, len(backs), halfOpenRefusals)
	assert.Less(t, time.Duration(lastDone.Load()), halfOpen+2*spread, "the backlog drained within 2*RetrySpread of half-open")
}

// TestBreakerRampUpAdmitsAGrowingShare: after a round closes the circuit,
// RampUp admits the first call and then a share of the calls that grows
// evenly with time; the others are refused with a RetryAfter in
// (0, RetrySpread]. Failures count as usual meanwhile, and the ramp ends
// after RampUp, after which every call passes.
func TestBreakerRampUpAdmitsAGrowingShare(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ramp = time.Second
		b := crew.NewBreaker(crew.BreakerConfig{ResetTimeout: time.Second, RetrySpread: 300 * time.Millisecond, RampUp: ramp})
		tripAndWait(b)
		require.NoError(t, b.Execute(context.Background(), succeed), "the probe closes the circuit")
		require.NoError(t, b.Execute(context.Background(), succeed), "the first call of the ramp passes")
		// 100 calls in each tenth of the ramp, evenly: about 100*(i+1/2)/10
		// pass in tenth i.
		for tenth := range 10 {
			passed := 0
			for range 100 {
				time.Sleep(ramp / 1000)
				err := b.Execute(context.Background(), succeed)
				if err == nil {
					passed++
					continue
				}
				re := refusal(t, err)
				assert.Positive(t, re.RetryAfter)
				assert.LessOrEqual(t, re.RetryAfter, 300*time.Millisecond)
				assert.Equal(t, crew.StateClosed, b.State(), "closed while it ramps up")
			}
			want := 10*tenth + 5
			assert.InDelta(t, want, passed, 1.5, "tenth %d of the ramp", tenth)
		}
		assert.False(t, b.Stats().RampingUp)
		for range 100 {
			require.NoError(t, b.Execute(context.Background(), succeed), "after the ramp")
		}
	})
	t.Run("failures count during the ramp", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := crew.NewBreaker(crew.BreakerConfig{FailureThreshold: 2, ResetTimeout: time.Second, RampUp: time.Second})
			tripAndWait(b)
			require.NoError(t, b.Execute(context.Background(), succeed), "the probe")
			time.Sleep(500 * time.Millisecond)
			failed := 0
			for failed < 2 {
				if err := b.Execute(context.Background(), fail); errors.Is(err, errBoom) {
					failed++
				}
				time.Sleep(time.Millisecond)
			}
			assert.Equal(t, crew.StateOpen, b.State())
			assert.Equal(t, uint64(2), b.Stats().Trips)
		})
	})
	t.Run("Reset closes without a ramp", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := crew.NewBreaker(crew.BreakerConfig{ResetTimeout: time.Second, RampUp: time.Hour})
			b.Trip()
			b.Reset()
			for range 100 {
				require.NoError(t, b.Execute(context.Background(), succeed))
			}
			assert.False(t, b.Stats().RampingUp)
		})
	})
}

// TestBreakerRampUpProtectsAColdDownstream: clients that do not wait for
// anything (a request every millisecond, each its own Execute, no pool)
// meet a downstream that comes back cold after an outage: it serves one
// call at once at first, one more every 200ms. The circuit judges by a
// FailureRatio. Without RampUp the circuit closes into the full load, the
// overload fails calls and it trips again; with RampUp the load rises with
// the ramp, below what the downstream serves, and it stays closed.
func TestBreakerRampUpProtectsAColdDownstream(t *testing.T) {
	for _, tt := range []struct {
		ramp      time.Duration
		wantTrips uint64
	}{
		{ramp: 0, wantTrips: 2},
		{ramp: 2 * time.Second, wantTrips: 1},
	} {
		t.Run(fmt.Sprintf("RampUp=%v", tt.ramp), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				svc := &recoveringService{t0: time.Now(), down: 100 * time.Millisecond, up: 700 * time.Millisecond,
					capacity: func(sinceUp time.Duration) int32 { return 1 + int32(sinceUp/(200*time.Millisecond)) }}
				b := crew.NewBreaker(crew.BreakerConfig{
					FailureRatio: 0.25, Window: 500 * time.Millisecond, MinimumCalls: 10,
					ResetTimeout: time.Second, RampUp: tt.ramp,
				})
				var wg sync.WaitGroup
				for range 4000 { // 4s of requests
					wg.Go(func() {
						_ = b.Execute(context.Background(), func(ctx context.Context) error {
							_, err := svc.call(ctx)
							return err
						})
					})
					time.Sleep(time.Millisecond)
				}
				wg.Wait()
				s := b.Stats()
				t.Logf("ramp %v: trips %d overloads %d refusals %d calls %d", tt.ramp, s.Trips, svc.overloads.Load(), s.Refusals, s.TotalCalls)
				assert.Equal(t, tt.wantTrips, s.Trips)
				if tt.ramp > 0 {
					assert.Zero(t, svc.overloads.Load())
					assert.Equal(t, crew.StateClosed, s.State)
				}
			})
		})
	}
}
