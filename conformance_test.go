package crew_test

// The conformance suite: guarantees 1-5 of DESIGN.md, run over every pool
// kind. A new pool (or Chain) joins by adding a row to poolKinds.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/crew-go/crew"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
)

// poolKind builds a pool of one kind with at most workers running jobs.
type poolKind struct {
	name string
	new  func(workers int, opts ...crew.Option) crew.Pool[int]
}

// blindClose names the kinds whose Close cannot see into their base (Retry
// over a foreign pool): a Submit waiting for room inside it is let in once
// room appears, and the job runs before Close returns; a Close from one of
// its jobs waits for itself. Retry's doc says so.
var blindClose = map[string]bool{"retry-foreign": true}

// retrying names the kinds that run a job that failed with an error up to
// quickAttempts times (Retry); other failures and successes run once.
var retrying = map[string]bool{"retry": true, "retry-chain": true, "retry-foreign": true}

const quickAttempts = 3 // quickRetry's MaxAttempts, the default

var poolKinds = []poolKind{
	{"pool", func(w int, o ...crew.Option) crew.Pool[int] { return crew.NewPool[int](w, o...) }},
	{"chain", func(w int, o ...crew.Option) crew.Pool[int] {
		return crew.Chain[int](crew.NewPool[int](w, o...), passGuard{}, passGuard{})
	}},
	{"limiter-breaker-chain", func(w int, o ...crew.Option) crew.Pool[int] {
		return crew.Chain[int](crew.NewPool[int](w, o...),
			crew.NewRateLimiter(rate.Limit(1e6), 1000), crew.NewBreaker(crew.BreakerConfig{}))
	}},
	// Adaptive: growing from zero with a short idle timeout (workers come
	// and go during the tests), all workers kept (min = max), under the
	// limit controller, behind a Chain, and in priority order.
	{"adaptive", func(w int, o ...crew.Option) crew.Pool[int] {
		return crew.NewAdaptivePool[int](0, w, append([]crew.Option{crew.WithIdleTimeout(time.Millisecond)}, o...)...)
	}},
	{"adaptive-min", func(w int, o ...crew.Option) crew.Pool[int] {
		return crew.NewAdaptivePool[int](w, w, o...)
	}},
	{"adaptive-limit", func(w int, o ...crew.Option) crew.Pool[int] {
		return crew.NewAdaptivePool[int](0, w, append([]crew.Option{crew.WithLimitControl(crew.LimitConfig{Initial: w})}, o...)...)
	}},
	{"adaptive-chain", func(w int, o ...crew.Option) crew.Pool[int] {
		return crew.Chain[int](crew.NewAdaptivePool[int](0, w, o...), passGuard{})
	}},
	{"adaptive-priority", func(w int, o ...crew.Option) crew.Pool[int] {
		return crew.NewAdaptivePool[int](0, w, append([]crew.Option{crew.WithPriorityOrder(), crew.WithIdleTimeout(time.Millisecond)}, o...)...)
	}},
	{"foreign-chain", func(w int, o ...crew.Option) crew.Pool[int] {
		return crew.Chain[int](foreignPool[int]{crew.NewPool[int](w, o...)}, passGuard{})
	}},
	{"priority", func(w int, o ...crew.Option) crew.Pool[int] { return crew.NewPriorityPool[int](w, o...) }},
	{"priority-strict-evict", func(w int, o ...crew.Option) crew.Pool[int] {
		return crew.NewPriorityPool[int](w, append([]crew.Option{crew.WithAging(0), crew.WithEvictLowest()}, o...)...)
	}},
	{"priority-chain", func(w int, o ...crew.Option) crew.Pool[int] {
		return crew.Chain[int](crew.NewPriorityPool[int](w, o...), passGuard{}, passGuard{})
	}},
	// Retry over a pool, over a Chain of a priority pool with both guards,
	// and over a pool crew cannot see into.
	{"retry", func(w int, o ...crew.Option) crew.Pool[int] {
		return crew.Retry(crew.NewPool[int](w, o...), quickRetry)
	}},
	{"retry-chain", func(w int, o ...crew.Option) crew.Pool[int] {
		return crew.Retry(crew.Chain[int](crew.NewPriorityPool[int](w, o...),
			crew.NewRateLimiter(rate.Limit(1e6), 1000), crew.NewBreaker(crew.BreakerConfig{})), quickRetry)
	}},
	{"retry-foreign", func(w int, o ...crew.Option) crew.Pool[int] {
		return crew.Retry[int](foreignPool[int]{crew.NewPool[int](w, o...)}, quickRetry)
	}},
}

// quickRetry is the Retry policy of the conformance kinds.
var quickRetry = crew.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}

// forEachKind runs test once per pool kind.
func forEachKind(t *testing.T, test func(t *testing.T, k poolKind)) {
	for _, k := range poolKinds {
		t.Run(k.name, func(t *testing.T) { test(t, k) })
	}
}

// passGuard admits and starts everything: a Chain with it must behave like
// its base pool.
type passGuard struct{}

func (passGuard) Admit(context.Context) (crew.Ticket, error)              { return 0, nil }
func (passGuard) Start(context.Context, crew.Ticket) (crew.Ticket, error) { return 0, nil }
func (passGuard) Done(crew.Ticket, error, time.Duration)                  {}
func (passGuard) Abandon(crew.Ticket)                                     {}

// foreignPool hides a crew pool's type, so Chain takes its generic path.
type foreignPool[T any] struct{ crew.Pool[T] }

// blocker is a job that signals when it starts and returns when released
// (or when its ctx ends, returning the ctx error).
type blocker struct {
	started chan struct{}
	release chan struct{}
}

func newBlocker() *blocker {
	return &blocker{started: make(chan struct{}), release: make(chan struct{})}
}

func (b *blocker) job(ctx context.Context) (int, error) {
	close(b.started)
	select {
	case <-b.release:
		return 1, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// occupy submits a blocker and waits until it runs.
func occupy(t *testing.T, p crew.Pool[int]) *blocker {
	t.Helper()
	b := newBlocker()
	_, err := p.Submit(context.Background(), b.job)
	require.NoError(t, err)
	<-b.started
	return b
}

func value(v int) crew.Job[int] {
	return func(context.Context) (int, error) { return v, nil }
}

func TestConformanceRunsJobs(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		p := k.new(4)
		futures := make([]*crew.Future[int], 1000)
		for i := range futures {
			f, err := p.Submit(context.Background(), value(i))
			require.NoError(t, err)
			futures[i] = f
		}
		for i, f := range futures {
			v, err := f.Wait(context.Background())
			require.NoError(t, err)
			require.Equal(t, i, v)
		}
		v, err := crew.Do(context.Background(), p, value(7))
		require.NoError(t, err)
		require.Equal(t, 7, v)
		require.NoError(t, p.Close(context.Background()))
		s := p.Stats()
		assert.Equal(t, uint64(1001), s.Submitted)
		assert.Equal(t, uint64(1001), s.Completed)
		assert.Zero(t, s.Workers)
	})
}

func TestConformanceCloseDrains(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		synctest.Test(t, func(t *testing.T) { closeDrains(t, k) })
	})
}

func closeDrains(t *testing.T, k poolKind) {
	{
		p := k.new(1)
		b := occupy(t, p)
		var ran atomic.Int32
		var queued []*crew.Future[int]
		for range 5 {
			f, err := p.Submit(context.Background(), func(context.Context) (int, error) {
				ran.Add(1)
				return 0, nil
			})
			require.NoError(t, err)
			queued = append(queued, f)
		}
		closed := make(chan error, 2)
		go func() { closed <- p.Close(context.Background()) }()
		go func() { closed <- p.Close(context.Background()) }()
		synctest.Wait()
		// Intake stops at once, while the queued jobs still wait.
		_, err := p.Submit(context.Background(), value(0))
		require.ErrorIs(t, err, crew.ErrClosed)
		require.Equal(t, 5, p.Stats().Queued)
		select {
		case <-closed:
			t.Fatal("Close returned while a job was still running")
		default:
		}
		close(b.release)
		require.NoError(t, <-closed)
		require.NoError(t, <-closed)
		require.EqualValues(t, 5, ran.Load(), "Close must run what was queued")
		for _, f := range queued {
			_, err := f.Wait(context.Background())
			require.NoError(t, err)
		}
		require.NoError(t, p.Close(context.Background()), "a later Close returns the first result")
		s := p.Stats()
		assert.Equal(t, s.Submitted, s.Completed+s.Canceled)
		assert.Zero(t, s.Workers)
	}
}

func TestConformanceCloseGivesUp(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		synctest.Test(t, func(t *testing.T) {
			p := k.new(2)
			// One running job honours cancellation, one ignores it for a while.
			polite := newBlocker()
			_, err := p.Submit(context.Background(), polite.job)
			require.NoError(t, err)
			stubbornDone := make(chan struct{})
			stubborn, err := p.Submit(context.Background(), func(ctx context.Context) (int, error) {
				<-ctx.Done()
				time.Sleep(time.Second) // cleanup after cancel takes fake time
				close(stubbornDone)
				return 2, nil
			})
			require.NoError(t, err)
			synctest.Wait()
			var queued []*crew.Future[int]
			for range 3 {
				f, err := p.Submit(context.Background(), value(0))
				require.NoError(t, err)
				queued = append(queued, f)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = p.Close(ctx)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			select {
			case <-stubbornDone: // Close waited for the stubborn job to return
			default:
				t.Fatal("Close returned before its running jobs did")
			}
			for _, f := range queued {
				_, err := f.Wait(context.Background())
				require.ErrorIs(t, err, crew.ErrClosed)
			}
			v, err := stubborn.Wait(context.Background())
			require.NoError(t, err)
			require.Equal(t, 2, v)
			require.ErrorIs(t, p.Close(context.Background()), context.DeadlineExceeded,
				"a later Close returns the first result")
			s := p.Stats()
			assert.EqualValues(t, 3, s.Canceled)
			assert.EqualValues(t, 2, s.Completed)
			assert.Equal(t, s.Submitted, s.Completed+s.Canceled)
		})
	})
}

func TestConformanceCloseGivesUpCancelsCancellableJobs(t *testing.T) {
	// The submitter's ctx can end, so the job runs with a ctx of its own;
	// Close's deadline must still reach it.
	forEachKind(t, func(t *testing.T, k poolKind) {
		synctest.Test(t, func(t *testing.T) {
			p := k.new(1)
			sub, cancelSub := context.WithCancel(context.Background())
			defer cancelSub()
			b := newBlocker()
			f, err := p.Submit(sub, b.job)
			require.NoError(t, err)
			<-b.started
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			require.ErrorIs(t, p.Close(ctx), context.DeadlineExceeded)
			_, err = f.Wait(context.Background())
			require.ErrorIs(t, err, context.Canceled)
		})
	})
}

func TestConformanceCloseIdle(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		p := k.new(3)
		require.NoError(t, p.Close(context.Background()))
		_, err := p.Submit(context.Background(), value(1))
		require.ErrorIs(t, err, crew.ErrClosed)
		require.Error(t, p.Close(nilCtx), "a nil ctx is refused, not a crash")
		s := p.Stats()
		assert.EqualValues(t, 1, s.Rejected)
		assert.Zero(t, s.Workers)
	})
}

func TestConformanceBackpressure(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		synctest.Test(t, func(t *testing.T) {
			p := k.new(1, crew.WithQueueSize(2))
			b := occupy(t, p)
			for range 2 {
				_, err := p.Submit(context.Background(), value(0))
				require.NoError(t, err)
			}
			// Full: a blocking Submit waits until its ctx ends.
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			start := time.Now()
			_, err := p.Submit(ctx, value(0))
			cancel()
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.Equal(t, time.Second, time.Since(start))
			require.Equal(t, 2, p.Stats().Queued)

			// A waiting Submit gets in as soon as room appears.
			accepted := make(chan error)
			go func() {
				_, err := p.Submit(context.Background(), value(0))
				accepted <- err
			}()
			synctest.Wait()
			select {
			case <-accepted:
				t.Fatal("Submit returned while the queue was full")
			default:
			}
			close(b.release)
			require.NoError(t, <-accepted)
			require.NoError(t, p.Close(context.Background()))
			s := p.Stats()
			assert.EqualValues(t, 4, s.Submitted)
			assert.EqualValues(t, 1, s.Rejected)
		})
	})
}

func TestConformanceNonBlocking(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		p := k.new(1, crew.WithQueueSize(1), crew.WithNonBlocking())
		b := occupy(t, p)
		_, err := p.Submit(context.Background(), value(0))
		require.NoError(t, err)
		_, err = p.Submit(context.Background(), value(0))
		require.ErrorIs(t, err, crew.ErrQueueFull)
		var rej *crew.RejectedError
		require.ErrorAs(t, err, &rej)
		require.NotEmpty(t, rej.Guard)
		close(b.release)
		require.NoError(t, p.Close(context.Background()))
	})
}

func TestConformanceZeroQueueHandsOff(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		p := k.new(2, crew.WithQueueSize(0), crew.WithNonBlocking())
		b1 := occupy(t, p)
		b2 := occupy(t, p) // a queue of 0 still hands jobs to free workers
		_, err := p.Submit(context.Background(), value(0))
		require.ErrorIs(t, err, crew.ErrQueueFull)
		close(b1.release)
		close(b2.release)
		require.NoError(t, p.Close(context.Background()))
	})
}

func TestConformanceBlockedSubmitSeesClose(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		synctest.Test(t, func(t *testing.T) {
			p := k.new(1, crew.WithQueueSize(1))
			b := occupy(t, p)
			_, err := p.Submit(context.Background(), value(0))
			require.NoError(t, err)
			refused := make(chan error)
			go func() {
				_, err := p.Submit(context.Background(), value(0))
				refused <- err
			}()
			synctest.Wait()
			closed := make(chan error)
			go func() { closed <- p.Close(context.Background()) }()
			if blindClose[k.name] {
				synctest.Wait()
				close(b.release)
				require.NoError(t, <-refused, "let in once room appeared")
				require.NoError(t, <-closed)
				assert.EqualValues(t, 3, p.Stats().Submitted)
				return
			}
			require.ErrorIs(t, <-refused, crew.ErrClosed)
			close(b.release)
			require.NoError(t, <-closed)
			s := p.Stats()
			assert.EqualValues(t, 2, s.Submitted)
			assert.EqualValues(t, 1, s.Rejected)
		})
	})
}

func TestConformanceNestedSubmitDoesNotDeadlock(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		synctest.Test(t, func(t *testing.T) {
			p := k.new(1, crew.WithQueueSize(1))
			release := make(chan struct{})
			outer, err := p.Submit(context.Background(), func(ctx context.Context) (int, error) {
				<-release
				// The queue is full and only this job could free it.
				_, err := p.Submit(ctx, value(0))
				if !errors.Is(err, crew.ErrQueueFull) {
					return 0, fmt.Errorf("nested Submit: got %v, want ErrQueueFull", err)
				}
				return 1, nil
			})
			require.NoError(t, err)
			_, err = p.Submit(context.Background(), value(0))
			require.NoError(t, err)
			close(release)
			v, err := outer.Wait(context.Background())
			require.NoError(t, err)
			require.Equal(t, 1, v)
			require.NoError(t, p.Close(context.Background()))
		})
	})
}

func TestConformancePanic(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		p := k.new(1)
		for i := range 3 {
			f, err := p.Submit(context.Background(), func(context.Context) (int, error) {
				panicky(i)
				return 0, nil
			})
			require.NoError(t, err)
			_, err = f.Wait(context.Background())
			var pe *crew.PanicError
			require.ErrorAs(t, err, &pe)
			require.Equal(t, i, pe.Value)
			require.Contains(t, string(pe.Stack), "panicky", "the stack is the panicking job's")
		}
		// The single worker survived: the pool still runs jobs.
		v, err := crew.Do(context.Background(), p, value(9))
		require.NoError(t, err)
		require.Equal(t, 9, v)
		wrapped := errors.New("boom")
		_, err = crew.Do(context.Background(), p, func(context.Context) (int, error) { panic(wrapped) })
		require.ErrorIs(t, err, wrapped, "a panic(err) unwraps to err")
		require.NoError(t, p.Close(context.Background()))
		s := p.Stats()
		assert.EqualValues(t, 5, s.Completed)
		assert.EqualValues(t, 4, s.Failed)
	})
}

//go:noinline
func panicky(v int) { panic(v) }

func TestConformanceGoexit(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		p := k.new(1)
		_, err := crew.Do(context.Background(), p, func(context.Context) (int, error) {
			runtime.Goexit()
			return 0, nil
		})
		var pe *crew.PanicError
		require.ErrorAs(t, err, &pe)
		v, err := crew.Do(context.Background(), p, value(3))
		require.NoError(t, err)
		require.Equal(t, 3, v)
		require.NoError(t, p.Close(context.Background()))
		s := p.Stats()
		assert.EqualValues(t, 2, s.Completed)
		assert.Zero(t, s.Workers)
	})
}

type ctxKey struct{}

func TestConformanceContext(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		synctest.Test(t, func(t *testing.T) { contextGuarantees(t, k) })
	})
}

func contextGuarantees(t *testing.T, k poolKind) {
	{
		p := k.new(1)
		ctx := context.WithValue(context.Background(), ctxKey{}, "v")
		got, err := crew.Do(ctx, p, func(ctx context.Context) (int, error) {
			if ctx.Value(ctxKey{}) != "v" {
				return 0, errors.New("the job's ctx lost the submitter's value")
			}
			return 1, nil
		})
		require.NoError(t, err)
		require.Equal(t, 1, got)

		// A job whose ctx ends while queued leaves at once and never runs.
		b := occupy(t, p)
		qctx, cancel := context.WithCancel(ctx)
		var ran atomic.Bool
		f, err := p.Submit(qctx, func(context.Context) (int, error) {
			ran.Store(true)
			return 0, nil
		})
		require.NoError(t, err)
		require.Equal(t, 1, p.Stats().Queued)
		cancel()
		<-f.Done() // resolves while the worker is still blocked
		_, err = f.Wait(context.Background())
		require.ErrorIs(t, err, context.Canceled)
		require.Zero(t, p.Stats().Queued)

		// A running job sees its submitter's cancellation.
		rctx, rcancel := context.WithCancel(ctx)
		b2 := newBlocker()
		f2, err := p.Submit(rctx, b2.job)
		require.NoError(t, err)
		close(b.release)
		<-b2.started
		rcancel()
		_, err = f2.Wait(context.Background())
		require.ErrorIs(t, err, context.Canceled)

		// An ended ctx is refused at Submit.
		_, err = p.Submit(qctx, value(0))
		require.ErrorIs(t, err, context.Canceled)

		require.NoError(t, p.Close(context.Background()))
		require.False(t, ran.Load(), "a job cancelled while queued must never run")
		s := p.Stats()
		assert.EqualValues(t, 1, s.Canceled)
		assert.EqualValues(t, 1, s.Rejected)
		assert.Equal(t, s.Submitted, s.Completed+s.Canceled)
	}
}

func TestConformanceBadInput(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		p := k.new(1)
		_, err := p.Submit(nilCtx, value(1))
		require.Error(t, err)
		require.Contains(t, err.Error(), "nil context")
		_, err = p.Submit(context.Background(), nil)
		require.Error(t, err)
		require.Contains(t, err.Error(), "nil Job")
		require.NoError(t, p.Close(context.Background()))
		s := p.Stats()
		assert.EqualValues(t, 2, s.Rejected)
		assert.Zero(t, s.Submitted)
	})
}

func TestConformanceWaitEndsOnlyTheWait(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		p := k.new(1)
		b := newBlocker()
		f, err := p.Submit(context.Background(), b.job)
		require.NoError(t, err)
		<-b.started
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err = f.Wait(ctx)
		require.ErrorIs(t, err, context.Canceled)
		close(b.release)
		v, err := f.Wait(context.Background())
		require.NoError(t, err, "the job was not cancelled by the waiter's ctx")
		require.Equal(t, 1, v)
		v, err = f.Wait(ctx)
		require.NoError(t, err, "a known outcome wins over an ended ctx")
		require.Equal(t, 1, v)
		r, ok := f.Result()
		require.True(t, ok)
		require.Equal(t, 1, r.Value)
		require.NoError(t, p.Close(context.Background()))
	})
}

// TestConformanceChaos hammers Submit, cancellation, panics and Close from
// many goroutines and checks guarantee 1: every accepted job resolves exactly
// once, none runs twice, none is lost, and the counters add up.
func TestConformanceChaos(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		for round := range 10 {
			chaosRound(t, k, uint64(round))
		}
	})
}

func chaosRound(t *testing.T, k poolKind, seed uint64) {
	const submitters, perSubmitter = 8, 200
	p := k.new(3, crew.WithQueueSize(8))
	var runs [submitters * perSubmitter]atomic.Int32
	var accepted, rejected atomic.Int64
	type sub struct {
		id int
		f  *crew.Future[int]
	}
	futures := make(chan sub, submitters*perSubmitter)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for s := range submitters {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(s)))
			var cancels []context.CancelFunc
			defer func() {
				for _, c := range cancels {
					c()
				}
			}()
			<-start
			for i := range perSubmitter {
				id := s*perSubmitter + i
				ctx, cancel := context.WithCancel(context.Background())
				cancels = append(cancels, cancel)
				mode := rng.IntN(6)
				f, err := p.Submit(ctx, func(ctx context.Context) (int, error) {
					runs[id].Add(1)
					switch mode {
					case 0:
						panic("chaos")
					case 1:
						return 0, errors.New("chaos")
					case 2:
						runtime.Gosched()
					}
					return id, nil
				})
				if mode == 3 || mode == 4 {
					cancel() // often while queued
				}
				if err != nil {
					rejected.Add(1)
					continue
				}
				accepted.Add(1)
				futures <- sub{id, f}
			}
		})
	}
	close(start)
	// Close races the submitters, with a deadline that sometimes fires.
	closeCtx, cancelClose := context.WithTimeout(context.Background(), time.Duration(seed%3)*time.Millisecond)
	defer cancelClose()
	closeErr := p.Close(closeCtx)
	wg.Wait()
	close(futures)
	if closeErr != nil {
		require.ErrorIs(t, closeErr, context.DeadlineExceeded)
	}

	ran := 0
	for s := range futures {
		require.Len(t, s.f.Done(), 0)
		select {
		case <-s.f.Done():
		default:
			t.Fatalf("job %d: Future unresolved after Close returned", s.id)
		}
		v, err := s.f.Wait(context.Background())
		n := runs[s.id].Load()
		if retrying[k.name] {
			// A job that failed may have run again; Completed counts the
			// jobs whose last attempt ran.
			require.LessOrEqual(t, n, int32(quickAttempts), "job %d ran %d times", s.id, n)
			var pe *crew.PanicError
			switch {
			case err == nil:
				require.Equal(t, s.id, v)
				ran++
			case errors.As(err, &pe), err.Error() == "chaos":
				require.GreaterOrEqual(t, n, int32(1))
				ran++
			}
			if n > 1 {
				require.False(t, errors.As(err, &pe), "job %d panicked and ran again", s.id)
			}
			continue
		}
		require.LessOrEqual(t, n, int32(1), "job %d ran %d times", s.id, n)
		if n == 1 {
			ran++
			if err == nil {
				require.Equal(t, s.id, v)
			}
			continue
		}
		// Never ran: cancelled while queued, or Close gave up on it.
		var rej *crew.RejectedError // a guard may refuse it at start
		require.True(t, errors.Is(err, context.Canceled) || errors.Is(err, crew.ErrClosed) || errors.As(err, &rej),
			"job %d never ran but resolved with %v", s.id, err)
	}
	for id := range runs {
		if !retrying[k.name] {
			require.LessOrEqual(t, runs[id].Load(), int32(1))
		}
	}
	st := p.Stats()
	require.Equal(t, uint64(accepted.Load()), st.Submitted)
	require.Equal(t, uint64(rejected.Load()), st.Rejected)
	require.Equal(t, st.Submitted, st.Completed+st.Canceled, "%+v", st)
	require.Equal(t, uint64(ran), st.Completed)
	require.Zero(t, st.Workers)
	require.Zero(t, st.Busy)
	require.Zero(t, st.Queued)
}

// TestConformanceCancelledBeforeStartNeverRuns pins the race between a ctx
// ending and a worker taking the job: the ctx watcher runs on its own
// goroutine, so the worker must check the ctx itself.
func TestConformanceCancelledBeforeStartNeverRuns(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		p := k.new(1)
		for range 300 {
			b := occupy(t, p)
			ctx, cancel := context.WithCancel(context.Background())
			var ran atomic.Bool
			f, err := p.Submit(ctx, func(context.Context) (int, error) {
				ran.Store(true)
				return 0, nil
			})
			require.NoError(t, err)
			cancel() // happens before the worker is free
			close(b.release)
			_, err = f.Wait(context.Background())
			require.ErrorIs(t, err, context.Canceled)
			require.False(t, ran.Load(), "the job ran although its ctx ended while it was queued")
		}
		require.NoError(t, p.Close(context.Background()))
	})
}

// TestConformanceCancelledJobFreesRoom: a queued job that leaves on
// cancellation hands its place to a blocked Submit at once.
func TestConformanceCancelledJobFreesRoom(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		synctest.Test(t, func(t *testing.T) {
			p := k.new(1, crew.WithQueueSize(1))
			b := occupy(t, p)
			ctx, cancel := context.WithCancel(context.Background())
			_, err := p.Submit(ctx, value(0))
			require.NoError(t, err)
			accepted := make(chan error)
			go func() {
				_, err := p.Submit(context.Background(), value(0))
				accepted <- err
			}()
			synctest.Wait()
			cancel()
			require.NoError(t, <-accepted, "the cancelled job's place went to the waiting Submit")
			require.Equal(t, 1, p.Stats().Queued)
			close(b.release)
			require.NoError(t, p.Close(context.Background()))
		})
	})
}

func TestConformanceCloseFromOwnJob(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		if blindClose[k.name] {
			t.Skip("a base crew cannot see into cannot tell its jobs' ctxs; Retry's doc says Close then waits for itself")
		}
		synctest.Test(t, func(t *testing.T) {
			p := k.new(1)
			f, err := p.Submit(context.Background(), func(ctx context.Context) (int, error) {
				if err := p.Close(ctx); err == nil {
					return 0, errors.New("Close from a job returned nil")
				}
				_, err := p.Submit(ctx, value(0))
				if !errors.Is(err, crew.ErrClosed) {
					return 0, fmt.Errorf("Submit after Close: %v", err)
				}
				return 1, nil
			})
			require.NoError(t, err)
			v, err := f.Wait(context.Background())
			require.NoError(t, err)
			require.Equal(t, 1, v)
			require.NoError(t, p.Close(context.Background()))
		})
	})
}

// TestConformanceBlockedSubmitGetsAFreedWorker pins a lost wake-up: with no
// waiting room, a blocked Submit must get the worker that turns idle (room
// that appears without a queue pop).
func TestConformanceBlockedSubmitGetsAFreedWorker(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		synctest.Test(t, func(t *testing.T) {
			p := k.new(1, crew.WithQueueSize(0))
			b := occupy(t, p)
			accepted := make(chan error)
			go func() {
				_, err := p.Submit(context.Background(), value(2))
				accepted <- err
			}()
			synctest.Wait()
			close(b.release)
			require.NoError(t, <-accepted)
			require.NoError(t, p.Close(context.Background()))
			s := p.Stats()
			assert.EqualValues(t, 2, s.Completed)
		})
	})
}
