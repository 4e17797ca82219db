package crew

// The limit's tests: the engine's side (a scripted controller moves the
// limit; workers follow) and the gradient controller's rules, one window at
// a time. The controller against a model downstream is in
// adaptive_sim_test.go.

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

// scripted is a controller that returns the limits it is given, one per
// observed job, then keeps the last.
type scripted struct {
	limits []int // guarded by the engine's mu
}

func (s *scripted) judge(error) (bool, bool) { return true, false }

func (s *scripted) observe(_ time.Duration, _ bool, limit, _ int) int {
	if len(s.limits) == 0 {
		return limit
	}
	l := s.limits[0]
	s.limits = s.limits[1:]
	return l
}

// withController plugs c into p's engine, as WithLimitControl does with the
// gradient, at limit.
func withController[T any](p *AdaptivePool[T], c controller, limit int) {
	p.e.mu.Lock()
	p.e.ctl, p.e.limit = c, limit
	p.e.mu.Unlock()
}

// script sets the limits s returns next.
func script[T any](p *AdaptivePool[T], s *scripted, limits ...int) {
	p.e.mu.Lock()
	s.limits = limits
	p.e.mu.Unlock()
}

func TestAdaptiveLimitRiseStartsWorkersForQueuedJobs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewAdaptivePool[int](0, 8)
		withController(p, &scripted{limits: []int{6}}, 1)
		quick, err := p.Submit(context.Background(), func(context.Context) (int, error) {
			time.Sleep(time.Millisecond)
			return 0, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		g := newGate()
		fs := submitN(t, p, 10, g.job)
		synctest.Wait()
		if s := p.Stats(); s.Workers != 1 || s.Queued != 10 {
			t.Fatalf("at limit 1: %+v", s)
		}
		time.Sleep(time.Millisecond) // quick ends; the controller says 6
		synctest.Wait()
		quick.Wait(context.Background())
		if s := p.Stats(); s.Busy != 6 || s.Workers != 6 || p.Limit() != 6 {
			t.Fatalf("after the limit rose to 6: %+v, limit %d; want 6 busy at once", s, p.Limit())
		}
		close(g.release)
		waitAll(t, fs)
		closePool(t, p)
	})
}

func TestAdaptiveLimitFallRetiresSurplus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewAdaptivePool[int](1, 8, WithIdleTimeout(0)) // idle workers never time out
		ctl := &scripted{}
		withController(p, ctl, 8)
		short, trigger, long := newGate(), newGate(), newGate()
		fs := submitN(t, p, 4, short.job)
		fs = append(fs, submitN(t, p, 1, trigger.job)...)
		fs = append(fs, submitN(t, p, 3, long.job)...)
		synctest.Wait()
		close(short.release)
		synctest.Wait()
		if s := p.Stats(); s.Workers != 8 || s.Busy != 4 {
			t.Fatalf("before the fall: %+v, want 4 idle and 4 busy", s)
		}
		script(p, ctl, 3)
		close(trigger.release) // its end drops the limit to 3
		synctest.Wait()
		// The 4 idle workers (and the trigger's) retire at once, the busy
		// ones stay with their jobs.
		if s := p.Stats(); s.Workers != 3 || s.Busy != 3 || p.Limit() != 3 {
			t.Fatalf("after the limit fell to 3: %+v, limit %d; want the idle workers gone", s, p.Limit())
		}
		close(long.release)
		waitAll(t, fs)
		synctest.Wait()
		if s := p.Stats(); s.Workers != 3 {
			t.Fatalf("after the busy ones finished: %d workers, want the limit 3", s.Workers)
		}
		// Under the lower limit, a burst runs 3 at a time.
		g := newGate()
		fs = submitN(t, p, 6, g.job)
		synctest.Wait()
		if s := p.Stats(); s.Busy != 3 || s.Workers != 3 {
			t.Fatalf("burst under limit 3: %+v", s)
		}
		close(g.release)
		waitAll(t, fs)
		closePool(t, p)
	})
}

// TestAdaptiveLimitControlSeesJobs: the controller sees each job's own
// running time and error, and nothing of a job that never ran.
func TestAdaptiveLimitControlSeesJobs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewAdaptivePool[int](0, 4)
		var got []time.Duration
		var errs []bool
		rec := &recorder{f: func(d time.Duration, overload bool) { got, errs = append(got, d), append(errs, overload) }}
		withController(p, rec, 4)
		boom := errors.New("boom")
		job := func(d time.Duration, err error) Job[int] {
			return func(context.Context) (int, error) { time.Sleep(d); return 0, err }
		}
		for _, f := range []Job[int]{job(3*time.Millisecond, nil), job(5*time.Millisecond, boom)} {
			if _, err := Do(context.Background(), Pool[int](p), f); err != nil && !errors.Is(err, boom) {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := p.Submit(ctx, job(0, nil)); err == nil {
			t.Fatal("a cancelled ctx was accepted")
		}
		closePool(t, p)
		p.e.mu.Lock()
		defer p.e.mu.Unlock()
		if len(got) != 2 || got[0] != 3*time.Millisecond || got[1] != 5*time.Millisecond || errs[0] || !errs[1] {
			t.Fatalf("observed %v %v, want [3ms 5ms] [false true]", got, errs)
		}
	})
}

type recorder struct{ f func(time.Duration, bool) }

func (r *recorder) judge(err error) (bool, bool) { return true, err != nil }

func (r *recorder) observe(d time.Duration, overload bool, limit, _ int) int {
	r.f(d, overload)
	return limit
}

// TestGradientJudge: cancellations and panics are left out of the
// windows, and so are the errors IsOverload rejects; other errors say
// overload.
func TestGradientJudge(t *testing.T) {
	boom := errors.New("503")
	notOverload := errors.New("404")
	g := newGradient(LimitConfig{IsOverload: func(err error) bool { return err != notOverload }}, 1, 8)
	for _, tt := range []struct {
		err              error
		counts, overload bool
	}{
		{nil, true, false},
		{boom, true, true},
		{notOverload, false, false},
		{context.Canceled, false, false},
		{fmt.Errorf("call: %w", context.Canceled), false, false},
		{context.DeadlineExceeded, true, true},
		{&PanicError{Value: "bug"}, false, false},
	} {
		counts, overload := g.judge(tt.err)
		if counts != tt.counts || overload != tt.overload {
			t.Errorf("judge(%v) = %v, %v; want %v, %v", tt.err, counts, overload, tt.counts, tt.overload)
		}
	}
}
