package crew_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/crew-go/crew"
)

// Adversarial tests: chaos over every pool kind, overload, an HTTP
// disconnect storm, and bad input. Each has a deadline, so a hang fails
// the test instead of stalling CI.

// within runs f and fails the test if it has not returned after d.
func within(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(d):
		buf := make([]byte, 1<<20)
		t.Fatalf("still running after %v:\n%s", d, buf[:runtime.Stack(buf, true)])
	}
}

// TestChaosEveryKind submits over 200,000 jobs in all across every pool
// kind, from many goroutines, with panics, runtime.Goexit, errors,
// cancellations and a Close that races them (and sometimes gives up), and
// checks: every accepted job's Future resolved exactly once, with an
// outcome that fits what the job did; no job ran more than its kind
// allows; Stats add up; no goroutine of the pool is left (goleak, at the
// end of the package).
func TestChaosEveryKind(t *testing.T) {
	const perKind = 14_000
	within(t, 3*time.Minute, func() {
		for i, k := range poolKinds {
			t.Run(k.name, func(t *testing.T) { chaosKind(t, k, perKind, uint64(i)) })
		}
	})
}

func chaosKind(t *testing.T, k poolKind, jobs int, seed uint64) {
	const submitters = 8
	p := k.new(4, crew.WithQueueSize(64))
	type sub struct {
		id   int
		mode int
		f    *crew.Future[int]
	}
	var (
		runs              = make([]atomic.Int32, jobs)
		accepted, refused atomic.Int64
		mu                sync.Mutex
		subs              []sub
		wg                sync.WaitGroup
	)
	start := make(chan struct{})
	for s := range submitters {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(s)))
			<-start
			for i := s; i < jobs; i += submitters {
				mode := rng.IntN(8)
				ctx, cancel := context.WithCancel(context.Background())
				f, err := p.Submit(ctx, func(ctx context.Context) (int, error) {
					runs[i].Add(1)
					switch mode {
					case 0:
						panic("chaos")
					case 1:
						runtime.Goexit()
					case 2:
						return 0, errChaos
					case 3:
						runtime.Gosched()
					}
					return i, nil
				})
				if mode >= 6 {
					cancel() // often while queued
				} else {
					defer cancel()
				}
				if err != nil {
					refused.Add(1)
					continue
				}
				accepted.Add(1)
				mu.Lock()
				subs = append(subs, sub{i, mode, f})
				mu.Unlock()
			}
		})
	}
	close(start)
	// Close races the last tenth of the Submits, and sometimes gives up.
	for accepted.Load()+refused.Load() < int64(jobs*9/10) {
		runtime.Gosched()
	}
	closeCtx, cancelClose := context.WithTimeout(context.Background(), time.Duration(seed%4)*time.Millisecond)
	defer cancelClose()
	closeErr := p.Close(closeCtx)
	wg.Wait()
	if closeErr != nil {
		require.ErrorIs(t, closeErr, context.DeadlineExceeded)
	}
	completed := 0
	for _, s := range subs {
		select {
		case <-s.f.Done():
		default:
			require.Failf(t, "unresolved", "job %d: Future unresolved after Close returned", s.id)
		}
		v, err := s.f.Wait(context.Background())
		n := runs[s.id].Load()
		maxRuns := int32(1)
		if retrying[k.name] && s.mode == 2 {
			maxRuns = quickAttempts
		}
		require.LessOrEqual(t, n, maxRuns, "job %d (mode %d) ran %d times", s.id, s.mode, n)
		var pe *crew.PanicError
		var rej *crew.RejectedError
		switch {
		case err == nil:
			require.Equal(t, s.id, v)
			require.Positive(t, n)
			completed++
		case errors.As(err, &pe):
			require.Contains(t, []int{0, 1}, s.mode, "job %d: %v", s.id, err)
			completed++
		case errors.Is(err, errChaos):
			require.Equal(t, 2, s.mode)
			completed++
		case errors.Is(err, context.Canceled), errors.Is(err, crew.ErrClosed), errors.As(err, &rej):
			// never ran (its last attempt did not): its ctx, Close, or a guard
		default:
			require.Failf(t, "unexpected outcome", "job %d (mode %d): %v", s.id, s.mode, err)
		}
	}
	st := p.Stats()
	require.Equal(t, uint64(accepted.Load()), st.Submitted)
	require.Equal(t, uint64(refused.Load()), st.Rejected)
	require.Equal(t, st.Submitted, st.Completed+st.Canceled, "%+v", st)
	require.Equal(t, uint64(completed), st.Completed, "%+v", st)
	require.Zero(t, st.Workers)
	require.Zero(t, st.Queued)
}

var errChaos = errors.New("chaos")

// TestOverloadKeepsMemoryBounded: a million Submits into a small pool that
// cannot keep up are refused (WithNonBlocking) without the heap growing
// with them: the queue is bounded, and a refusal keeps nothing.
func TestOverloadKeepsMemoryBounded(t *testing.T) {
	within(t, time.Minute, func() {
		p := crew.NewPool[int](2, crew.WithQueueSize(1000), crew.WithNonBlocking())
		release := make(chan struct{})
		job := func(context.Context) (int, error) { <-release; return 0, nil }
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		var accepted int
		for range 1_000_000 {
			if _, err := p.Submit(context.Background(), job); err == nil {
				accepted++
			} else {
				require.ErrorIs(t, err, crew.ErrQueueFull)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		close(release)
		require.NoError(t, p.Close(context.Background()))
		assert.LessOrEqual(t, accepted, 1000+2, "the queue and the workers, no more")
		grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
		assert.Less(t, grown, int64(8<<20), "heap grew %d bytes under a million refused Submits", grown)
	})
}

// TestHandlerDisconnectStorm: 500 clients at once against a Handler on a
// small pool, half of them hanging up at random moments. Every handler
// that started returns, every request is answered or abandoned, the
// counters add up, and no goroutine is left (goleak).
func TestHandlerDisconnectStorm(t *testing.T) {
	within(t, 2*time.Minute, func() {
		p := crew.NewPool[struct{}](8, crew.WithQueueSize(64))
		var running, started atomic.Int64
		srv := httptest.NewServer(crew.Handler(p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			started.Add(1)
			running.Add(1)
			defer running.Add(-1)
			select {
			case <-time.After(time.Duration(rand.IntN(20)) * time.Millisecond):
				_, _ = io.WriteString(w, "ok")
			case <-r.Context().Done():
			}
		})))
		client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: 500}}
		var wg sync.WaitGroup
		var ok, gone, refused atomic.Int64
		for i := range 500 {
			wg.Go(func() {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if i%2 == 0 {
					time.AfterFunc(time.Duration(rand.IntN(30))*time.Millisecond, cancel)
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
				resp, err := client.Do(req)
				if err != nil {
					gone.Add(1)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case http.StatusOK:
					ok.Add(1)
				case http.StatusServiceUnavailable:
					refused.Add(1)
				default:
					// a client that hung up mid-answer
					gone.Add(1)
				}
			})
		}
		wg.Wait()
		client.CloseIdleConnections()
		srv.Close() // waits for every handler to return
		require.NoError(t, p.Close(context.Background()))
		assert.Zero(t, running.Load(), "every handler returned")
		assert.EqualValues(t, 500, ok.Load()+gone.Load()+refused.Load())
		s := p.Stats()
		assert.Equal(t, s.Submitted, s.Completed+s.Canceled, "%+v", s)
		assert.LessOrEqual(t, started.Load(), int64(s.Completed))
	})
}

// FuzzConstructors feeds every constructor and option sizes, counts and
// durations of every kind, MaxInt and negatives included: each either
// panics with a message starting "crew: " at construction, or builds a
// pool that runs a job and closes.
func FuzzConstructors(f *testing.F) {
	f.Add(int64(1), int64(0), int64(1), int64(0), int64(0), uint8(0))
	f.Add(int64(math.MaxInt64), int64(math.MaxInt64), int64(math.MaxInt64), int64(math.MaxInt64), int64(math.MaxInt64), uint8(255))
	f.Add(int64(-1), int64(-1), int64(-1), int64(-1), int64(-1), uint8(7))
	f.Add(int64(0), int64(3), int64(2), int64(1), int64(time.Millisecond), uint8(3))
	f.Fuzz(func(t *testing.T, a, b, c, d, e int64, which uint8) {
		n1, n2, n3 := int(a), int(b), int(c)
		dur1, dur2 := time.Duration(d), time.Duration(e)
		build := []func() crew.Pool[int]{
			func() crew.Pool[int] { return crew.NewPool[int](n1, crew.WithQueueSize(n2)) },
			func() crew.Pool[int] {
				return crew.NewPriorityPool[int](n1, crew.WithQueueSize(n2), crew.WithAging(dur1))
			},
			func() crew.Pool[int] { return crew.NewAdaptivePool[int](n3, n1, crew.WithIdleTimeout(dur1)) },
			func() crew.Pool[int] {
				return crew.NewAdaptivePool[int](n3, n1, crew.WithLimitControl(crew.LimitConfig{
					Tolerance: float64(d) / 1e9, MaxLatency: dur2, MaxErrorRate: float64(e) / 1e9, Initial: n2,
				}))
			},
			func() crew.Pool[int] {
				return crew.Retry(crew.NewPool[int](max(n1, 1)), crew.RetryPolicy{MaxAttempts: n2, BaseDelay: dur1, MaxDelay: dur2})
			},
			func() crew.Pool[int] {
				return crew.Chain(crew.NewPool[int](1), crew.NewBreaker(crew.BreakerConfig{
					FailureThreshold: n1, HalfOpenMaxRequests: n2, ResetTimeout: dur1, ProbeTimeout: dur2,
				}))
			},
			func() crew.Pool[int] {
				return crew.Chain(crew.NewPool[int](1), crew.NewRateLimiter(rateOf(d), n1, crew.WithMaxWait(dur2)))
			},
		}
		var p crew.Pool[int]
		func() {
			defer func() {
				if r := recover(); r != nil {
					require.True(t, strings.HasPrefix(fmt.Sprint(r), "crew: "), "panic %v", r)
				}
			}()
			p = build[int(which)%len(build)]()
		}()
		if p == nil {
			return // refused at construction, with a crew: message
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		if f, err := p.Submit(ctx, value(1)); err == nil {
			_, _ = f.Wait(ctx)
		}
		closeCtx, cancelClose := context.WithTimeout(context.Background(), time.Second)
		defer cancelClose()
		_ = p.Close(closeCtx)
		assert.Zero(t, p.Stats().Workers)
	})
}

// rateOf turns fuzz input into a limit, NaN, Inf and tiny ones included.
func rateOf(d int64) rate.Limit {
	switch d % 5 {
	case 0:
		return rate.Limit(math.NaN())
	case 1:
		return rate.Inf
	case 2:
		return rate.Limit(math.Float64frombits(uint64(d)))
	}
	return rate.Limit(float64(d) / 1e3)
}
