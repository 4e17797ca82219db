package crew

// The adaptive suite: the worker-count policy (min, max, idle timeout), the
// limit moves the engine makes for a controller, the OnScale hook, and the
// policy composed with another queue discipline. Everything runs in
// testing/synctest bubbles, so time is fake and never the oracle.

import (
	"github.com/crew-go/crew/internal/queue"

	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// gate is a job that blocks until released.
type gate struct {
	started atomic.Int32
	release chan struct{}
}

func newGate() *gate { return &gate{release: make(chan struct{})} }

func (g *gate) job(ctx context.Context) (int, error) {
	g.started.Add(1)
	select {
	case <-g.release:
		return 1, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func submitN(t *testing.T, p Pool[int], n int, job Job[int]) []*Future[int] {
	t.Helper()
	fs := make([]*Future[int], n)
	for i := range fs {
		f, err := p.Submit(context.Background(), job)
		if err != nil {
			t.Fatalf("Submit %d: %v", i, err)
		}
		fs[i] = f
	}
	return fs
}

func waitAll(t *testing.T, fs []*Future[int]) {
	t.Helper()
	for _, f := range fs {
		if _, err := f.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func closePool(t *testing.T, p interface{ Close(context.Context) error }) {
	t.Helper()
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func mustPanic(t *testing.T, name string, fn func()) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			t.Errorf("%s: no panic", name)
			return
		}
		if s, _ := r.(string); !strings.HasPrefix(s, "crew: ") {
			t.Errorf("%s: panic %v, want a \"crew: \" message", name, r)
		}
	}()
	fn()
}

func TestNewAdaptivePoolValidates(t *testing.T) {
	for _, tt := range []struct {
		name     string
		min, max int
	}{
		{"negative min", -1, 4},
		{"zero max", 0, 0},
		{"max below min", 5, 4},
	} {
		mustPanic(t, tt.name, func() { NewAdaptivePool[int](tt.min, tt.max) })
	}
	mustPanic(t, "negative idle timeout", func() { WithIdleTimeout(-time.Second) })
	mustPanic(t, "negative tolerance", func() { WithLimitControl(LimitConfig{Tolerance: -1}) })
	mustPanic(t, "error rate over 1", func() { WithLimitControl(LimitConfig{MaxErrorRate: 2}) })
	for _, ok := range [][2]int{{0, 1}, {1, 1}, {3, 8}} {
		closePool(t, NewAdaptivePool[int](ok[0], ok[1]))
	}
}

func TestAdaptiveStartsWithMin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, give := range []struct{ min, max int }{{0, 4}, {3, 8}, {4, 4}} {
			p := NewAdaptivePool[int](give.min, give.max, WithIdleTimeout(time.Second))
			if got := p.Stats().Workers; got != give.min {
				t.Errorf("NewAdaptivePool(%d, %d): %d workers at start, want %d", give.min, give.max, got, give.min)
			}
			time.Sleep(time.Hour)
			synctest.Wait()
			if got := p.Stats().Workers; got != give.min {
				t.Errorf("NewAdaptivePool(%d, %d): %d workers after an idle hour, want %d", give.min, give.max, got, give.min)
			}
			if got := p.Limit(); got != give.max {
				t.Errorf("Limit() = %d, want max %d", got, give.max)
			}
			closePool(t, p)
		}
	})
}

// TestAdaptiveIdleHoldsMinWithoutTimers: an idle pool's minimum workers wait
// on their wake channels and keep no idle timer armed. A worker that re-armed
// its timer whenever it found it could not retire would tick forever.
func TestAdaptiveIdleHoldsMinWithoutTimers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewAdaptivePool[int](2, 8, WithIdleTimeout(time.Second))
		waitAll(t, submitN(t, p, 8, func(context.Context) (int, error) {
			time.Sleep(time.Millisecond)
			return 0, nil
		}))
		time.Sleep(time.Minute) // the surplus retires, the minimum stays
		synctest.Wait()         // returns: nothing in the bubble is busy
		if got := p.Stats().Workers; got != 2 {
			t.Fatalf("%d workers idle, want min 2", got)
		}
		parked := 0
		buf := make([]byte, 1<<20)
		for g := range strings.SplitSeq(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "crew.(*engine[...]).park") {
				parked++
				if !strings.Contains(g, "[chan receive") {
					t.Errorf("an idle worker waits on more than its wake channel:\n%s", g)
				}
			}
		}
		if parked != 2 {
			t.Errorf("%d parked workers found, want 2", parked)
		}
		p.e.mu.Lock()
		for _, w := range p.e.all {
			if w.armed {
				t.Error("an idle worker at the minimum keeps its idle timer armed: it would tick")
			}
		}
		p.e.mu.Unlock()
		closePool(t, p)
	})
}

func TestAdaptiveScalesToMaxWithin100ms(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewAdaptivePool[int](1, 32)
		g := newGate()
		start := time.Now()
		fs := submitN(t, p, 200, g.job)
		for p.Stats().Busy < 32 && time.Since(start) <= 100*time.Millisecond {
			time.Sleep(time.Millisecond)
		}
		s := p.Stats()
		if s.Busy != 32 || s.Workers != 32 {
			t.Fatalf("after %v: %d workers, %d busy, want max 32", time.Since(start), s.Workers, s.Busy)
		}
		t.Logf("a burst of 200 jobs reached 32 workers after %v of fake time", time.Since(start))
		close(g.release)
		waitAll(t, fs)
		closePool(t, p)
	})
}

func TestAdaptiveBackToMinAfterIdleTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, give := range []struct {
			name string
			opts []Option
			idle time.Duration // 0: never
		}{
			{"1s", []Option{WithIdleTimeout(time.Second)}, time.Second},
			{"default", nil, DefaultIdleTimeout},
			{"never", []Option{WithIdleTimeout(0)}, 0},
		} {
			p := NewAdaptivePool[int](2, 16, give.opts...)
			g := newGate()
			fs := submitN(t, p, 16, g.job)
			synctest.Wait()
			close(g.release)
			waitAll(t, fs)
			synctest.Wait()
			wait := give.idle
			if wait == 0 {
				wait = time.Hour
			}
			time.Sleep(wait - time.Millisecond)
			synctest.Wait()
			if got := p.Stats().Workers; got != 16 {
				t.Errorf("%s: %d workers just before the idle timeout, want 16", give.name, got)
			}
			time.Sleep(time.Millisecond)
			synctest.Wait()
			want := 2
			if give.idle == 0 {
				want = 16
			}
			if got := p.Stats().Workers; got != want {
				t.Errorf("%s: %d workers after the idle timeout, want %d", give.name, got, want)
			}
			closePool(t, p)
		}
	})
}

// TestAdaptiveBoundsUnderLoad hammers Submit with jobs of random length and
// cancelled contexts, under a controller moving the limit, while samplers
// read Stats and Limit: workers stay within [min, max], busy within the
// limit's reach, and the hook sees the same bounds.
func TestAdaptiveBoundsUnderLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const lo, hi = 3, 12
		var bad atomic.Value
		fail := func(format string, args ...any) { bad.CompareAndSwap(nil, fmt.Sprintf(format, args...)) }
		p := NewAdaptivePool[int](lo, hi,
			WithIdleTimeout(5*time.Millisecond),
			WithQueueSize(8),
			WithLimitControl(LimitConfig{}),
			WithOnScale(func(workers, limit int) {
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
						f.Wait(context.Background())
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
		if msg := bad.Load(); msg != nil {
			t.Fatal(msg)
		}
		closePool(t, p)
		if s := p.Stats(); s.Submitted != s.Completed+s.Canceled || s.Workers != 0 {
			t.Fatalf("after Close: %+v", s)
		}
	})
}

func TestAdaptiveOnScale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type event struct{ workers, limit int }
		var (
			mu     sync.Mutex
			events []event
			p      *AdaptivePool[int]
			extra  atomic.Int32
		)
		p = NewAdaptivePool[int](1, 4, WithIdleTimeout(time.Second), WithOnScale(func(workers, limit int) {
			// Calling back into the pool must not deadlock: the hook runs
			// outside the pool's lock.
			s := p.Stats()
			if l := p.Limit(); l != limit {
				t.Errorf("OnScale limit %d, Limit() %d", limit, l)
			}
			if extra.Add(1) == 1 {
				if _, err := p.Submit(context.Background(), func(context.Context) (int, error) { return 0, nil }); err != nil {
					t.Errorf("Submit from OnScale: %v", err)
				}
			}
			mu.Lock()
			events = append(events, event{workers, limit})
			mu.Unlock()
			_ = s
		}))
		g := newGate()
		fs := submitN(t, p, 4, g.job)
		synctest.Wait()
		close(g.release)
		waitAll(t, fs)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		mu.Lock()
		got := append([]event(nil), events...)
		mu.Unlock()
		t.Logf("events: %v", got)
		if len(got) < 2 {
			t.Fatalf("events %v: want growth and shrinking", got)
		}
		peak := 0
		for _, e := range got {
			peak = max(peak, e.workers)
		}
		if peak != 4 {
			t.Errorf("events %v: peak %d workers, want 4", got, peak)
		}
		if last := got[len(got)-1]; last != (event{1, 4}) {
			t.Errorf("last event %v, want {1 4}: the hook must end on the latest state", last)
		}
		closePool(t, p)
	})
}

// TestAdaptiveCloseWaitsForOnScale: a hook running when Close is called
// finishes before Close returns, so no hook runs after it.
func TestAdaptiveCloseWaitsForOnScale(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var inHook atomic.Bool
		p := NewAdaptivePool[int](0, 2, WithIdleTimeout(time.Second), WithOnScale(func(workers, _ int) {
			if workers == 0 {
				inHook.Store(true)
				<-release
				inHook.Store(false)
			}
		}))
		waitAll(t, submitN(t, p, 1, func(context.Context) (int, error) { return 0, nil }))
		time.Sleep(2 * time.Second) // the worker retires; the hook blocks
		synctest.Wait()
		if !inHook.Load() {
			t.Fatal("the hook did not see the pool shrink to 0")
		}
		closed := make(chan error)
		go func() { closed <- p.Close(context.Background()) }()
		synctest.Wait()
		select {
		case <-closed:
			t.Fatal("Close returned while OnScale was running")
		default:
		}
		close(release)
		if err := <-closed; err != nil {
			t.Fatal(err)
		}
		if inHook.Load() {
			t.Fatal("OnScale still running after Close")
		}
	})
}

// lifo is a test queue discipline, last in first out, to show that the
// adaptive policy is independent of the queue it serves.
type lifo[T any] struct{ jobs []*task[T] }

func (q *lifo[T]) push(f *task[T]) { q.jobs = append(q.jobs, f) }
func (q *lifo[T]) pop() *task[T] {
	if len(q.jobs) == 0 {
		return nil
	}
	f := q.jobs[len(q.jobs)-1]
	q.jobs = q.jobs[:len(q.jobs)-1]
	return f
}
func (q *lifo[T]) remove(f *task[T]) bool {
	for i, g := range q.jobs {
		if g == f {
			q.jobs = append(q.jobs[:i], q.jobs[i+1:]...)
			return true
		}
	}
	return false
}
func (q *lifo[T]) len() int                   { return len(q.jobs) }
func (q *lifo[T]) evictFor(*task[T]) *task[T] { return nil }
func (q *lifo[T]) stamp() int64               { return 0 }

// TestAdaptivePolicyComposesWithQueue builds engines through the seam,
// newEngine(queue, config, adaptive policy), with three queue disciplines, among them
// the priority pool's: the queue decides the order, the adaptive policy the
// worker count.
func TestAdaptivePolicyComposesWithQueue(t *testing.T) {
	for _, tt := range []struct {
		name string
		q    func() discipline[int]
		want []int // start order of jobs 1..4 queued behind a blocker
	}{
		{"fifo", func() discipline[int] { return &fifo[int]{} }, []int{1, 2, 3, 4}},
		{"lifo", func() discipline[int] { return &lifo[int]{} }, []int{4, 3, 2, 1}},
		// A priority pool whose worker count adapts; jobs 1..4 have
		// priorities 2, 4, 1, 3.
		{"priority", func() discipline[int] {
			return prio[int]{queue.NewPriority[task[int]](DefaultAgingStep, false)}
		}, []int{2, 4, 1, 3}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newConfig("test", forAdaptive, nil)
				p := &AdaptivePool[int]{e: newEngine(tt.q(), &c, workerPolicy{max: 4, idleTimeout: time.Second})}
				withController(p, &scripted{limits: []int{1}}, 4)

				// Adaptive: a burst grows the pool to max at once.
				g := newGate()
				fs := submitN(t, p, 4, g.job)
				synctest.Wait()
				if s := p.Stats(); s.Workers != 4 || s.Busy != 4 {
					t.Fatalf("burst: %+v, want 4 workers", s)
				}
				// The first job to finish drops the limit to 1, so the
				// queue's order shows.
				var mu sync.Mutex
				var order []int
				for i, prio := range []int{2, 4, 1, 3} {
					f, err := p.Submit(WithPriority(context.Background(), prio), func(context.Context) (int, error) {
						mu.Lock()
						order = append(order, i+1)
						mu.Unlock()
						return i, nil
					})
					if err != nil {
						t.Fatal(err)
					}
					fs = append(fs, f)
				}
				close(g.release)
				waitAll(t, fs)
				if fmt.Sprint(order) != fmt.Sprint(tt.want) {
					t.Errorf("start order %v, want %v", order, tt.want)
				}
				// And idle workers retire down to min.
				time.Sleep(2 * time.Second)
				synctest.Wait()
				if got := p.Stats().Workers; got != 0 {
					t.Errorf("%d workers after idling, want 0", got)
				}
				closePool(t, p)
			})
		})
	}
}

// TestAdaptiveGoexitKeepsMin: a job that ends its worker with
// runtime.Goexit does not take the pool below its minimum.
func TestAdaptiveGoexitKeepsMin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewAdaptivePool[int](2, 4)
		f, err := p.Submit(context.Background(), func(context.Context) (int, error) {
			runtime.Goexit()
			return 0, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var pe *PanicError
		if _, err := f.Wait(context.Background()); !errors.As(err, &pe) {
			t.Fatalf("Wait: %v, want a *PanicError", err)
		}
		synctest.Wait()
		if got := p.Stats().Workers; got != 2 {
			t.Fatalf("%d workers after a Goexit, want min 2", got)
		}
		closePool(t, p)
	})
}

// TestAdaptiveIdleTimeoutCountsFromLastJob: the idle timer is left running
// across short jobs (to save a timer operation per job); a worker must still
// retire a full idle timeout after its last job, not when a timer armed in
// an earlier idle spell fires.
func TestAdaptiveIdleTimeoutCountsFromLastJob(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewAdaptivePool[int](0, 1, WithIdleTimeout(time.Second))
		quick := func(context.Context) (int, error) { return 0, nil }
		waitAll(t, submitN(t, p, 1, quick)) // idle from 0s, timer due at 1s
		time.Sleep(600 * time.Millisecond)
		waitAll(t, submitN(t, p, 1, quick)) // idle again from 0.6s
		time.Sleep(time.Second - time.Millisecond)
		synctest.Wait()
		if got := p.Stats().Workers; got != 1 {
			t.Fatalf("%d workers 0.999s after the last job, want 1", got)
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		if got := p.Stats().Workers; got != 0 {
			t.Fatalf("%d workers 1.001s after the last job, want 0", got)
		}
		closePool(t, p)
	})
}

// TestAdaptiveSimultaneousExpiryKeepsMin: when many idle timers fire at the
// same instant, the decisions to retire must not count workers that are
// already on their way out, or the pool falls below its minimum.
func TestAdaptiveSimultaneousExpiryKeepsMin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewAdaptivePool[int](2, 64, WithIdleTimeout(time.Second))
		for cycle := range 20 {
			g := newGate()
			fs := submitN(t, p, 64, g.job)
			synctest.Wait()
			close(g.release) // all 64 park at the same instant
			waitAll(t, fs)
			time.Sleep(2 * time.Second)
			synctest.Wait()
			if got := p.Stats().Workers; got != 2 {
				t.Fatalf("cycle %d: %d workers after the idle timeout, want min 2", cycle, got)
			}
		}
		closePool(t, p)
	})
}
