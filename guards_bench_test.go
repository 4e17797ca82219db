package crew

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// plenty is a rate and burst at which the bucket never runs dry in a
// benchmark, while still being a finite limit (rate.Inf takes a shortcut).
const (
	plentyRate  = rate.Limit(1e12)
	plentyBurst = 1 << 40
)

// guardCall is what a pool does per job with one guard: Admit, Start, Done.
func guardCall(ctx context.Context, g Guard) {
	adm, err := g.Admit(ctx)
	if err != nil {
		panic("refused")
	}
	t, err := g.Start(ctx, adm)
	if err != nil {
		panic("refused")
	}
	g.Done(t, nil, time.Microsecond)
}

// BenchmarkBreakerGuard is the breaker's success path as a pool drives it.
func BenchmarkBreakerGuard(b *testing.B) {
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		br := NewBreaker(BreakerConfig{})
		b.ReportAllocs()
		for b.Loop() {
			guardCall(ctx, br)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		br := NewBreaker(BreakerConfig{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				guardCall(ctx, br)
			}
		})
	})
	b.Run("ratio mode", func(b *testing.B) {
		br := NewBreaker(BreakerConfig{FailureRatio: 0.5})
		b.ReportAllocs()
		for b.Loop() {
			guardCall(ctx, br)
		}
	})
	b.Run("baseline: a mutex-guarded counter", func(b *testing.B) {
		var mu sync.Mutex
		n := 0
		b.ReportAllocs()
		for b.Loop() {
			mu.Lock()
			n++
			mu.Unlock()
		}
	})
}

func BenchmarkBreakerExecute(b *testing.B) {
	ctx := context.Background()
	fn := func(context.Context) error { return nil }
	b.Run("Execute", func(b *testing.B) {
		br := NewBreaker(BreakerConfig{})
		b.ReportAllocs()
		for b.Loop() {
			_ = br.Execute(ctx, fn)
		}
	})
	b.Run("Execute with SlowCallThreshold", func(b *testing.B) {
		br := NewBreaker(BreakerConfig{SlowCallThreshold: time.Second})
		b.ReportAllocs()
		for b.Loop() {
			_ = br.Execute(ctx, fn)
		}
	})
	b.Run("baseline: direct call", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = fn(ctx)
		}
	})
}

// BenchmarkPoolChain is the per-job cost of Chain(limiter, breaker) over
// the bare pool, with Do from many goroutines.
func BenchmarkPoolChain(b *testing.B) {
	job := func(context.Context) (int, error) { return 1, nil }
	for _, tt := range []struct {
		name string
		pool func() Pool[int]
	}{
		{"bare pool", func() Pool[int] { return NewPool[int](runtime.GOMAXPROCS(0)) }},
		{"Chain(limiter, breaker)", func() Pool[int] {
			return Chain[int](NewPool[int](runtime.GOMAXPROCS(0)), NewRateLimiter(plentyRate, plentyBurst), NewBreaker(BreakerConfig{}))
		}},
	} {
		b.Run("serial/"+tt.name, func(b *testing.B) {
			p := tt.pool()
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Do(ctx, p, job); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			_ = p.Close(ctx)
		})
		b.Run("parallel/"+tt.name, func(b *testing.B) {
			p := tt.pool()
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := Do(ctx, p, job); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			_ = p.Close(ctx)
		})
	}
}

// BenchmarkGuardPath isolates what Chain(limiter, breaker) adds to a job's
// path through a pool: the guards' Admit at Submit, and runJob with the
// guards (their Start and Done, and the clock read for elapsed) instead of
// without. The pool's own queueing and hand-off, which dominate
// BenchmarkPoolChain and make it noisy, are left out.
func BenchmarkGuardPath(b *testing.B) {
	ctx := context.Background()
	job := func(context.Context) (int, error) { return 1, nil }
	b.Run("no guards", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _, _, _, _ = runGuarded(ctx, job, nil, nil, true)
		}
	})
	b.Run("limiter, breaker", func(b *testing.B) {
		g := []Guard{NewRateLimiter(plentyRate, plentyBurst), NewBreaker(BreakerConfig{})}
		guards := newGuardList(g)
		var a admission
		b.ReportAllocs()
		for b.Loop() {
			var tickets [2]Ticket
			for i, g := range guards.g {
				t, err := g.Admit(ctx)
				if err != nil {
					b.Fatal("refused")
				}
				tickets[i] = t
			}
			a.set(guards, tickets[:])
			_, _, _, _, _ = runGuarded(ctx, job, &a, nil, true)
		}
	})
}
