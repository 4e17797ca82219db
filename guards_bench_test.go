package crew

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
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

// BenchmarkRateLimiterGuard compares the limiter guard, when tokens are
// there, with x/time/rate's own Wait.
func BenchmarkRateLimiterGuard(b *testing.B) {
	ctx := context.Background()
	dl, cancel := context.WithDeadline(ctx, time.Now().Add(time.Hour))
	defer cancel()
	b.Run("guard", func(b *testing.B) {
		l := NewRateLimiter(plentyRate, plentyBurst)
		b.ReportAllocs()
		for b.Loop() {
			guardCall(ctx, l)
		}
	})
	b.Run("guard with deadline", func(b *testing.B) {
		l := NewRateLimiter(plentyRate, plentyBurst)
		b.ReportAllocs()
		for b.Loop() {
			guardCall(dl, l)
		}
	})
	b.Run("baseline: rate.Limiter.Wait", func(b *testing.B) {
		l := rate.NewLimiter(plentyRate, plentyBurst)
		b.ReportAllocs()
		for b.Loop() {
			if l.Wait(ctx) != nil {
				b.Fatal("refused")
			}
		}
	})
	b.Run("baseline: rate.Limiter.Wait with deadline", func(b *testing.B) {
		l := rate.NewLimiter(plentyRate, plentyBurst)
		b.ReportAllocs()
		for b.Loop() {
			if l.Wait(dl) != nil {
				b.Fatal("refused")
			}
		}
	})
	// In parallel the part under the limiter's mutex is what the callers
	// queue for; the clock reading is done by each on its own core.
	b.Run("parallel guard", func(b *testing.B) {
		l := NewRateLimiter(plentyRate, plentyBurst)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				guardCall(ctx, l)
			}
		})
	})
	b.Run("parallel baseline: rate.Limiter.Wait", func(b *testing.B) {
		l := rate.NewLimiter(plentyRate, plentyBurst)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if l.Wait(ctx) != nil {
					b.Error("refused")
					return
				}
			}
		})
	})
	b.Run("parallel baseline: a lock-free bucket", func(b *testing.B) {
		g := newGCRA(plentyRate, plentyBurst)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !g.allow() {
					b.Error("refused")
					return
				}
			}
		})
	})
}

// gcra is a token bucket without a lock (the generic cell rate algorithm):
// one word, the time at which the bucket would be empty, moved by CAS. It
// is not golang.org/x/time/rate's bucket, which RateLimiter must keep as
// the bucket of record; it is here to measure what taking a token costs
// when neither a mutex nor x/time's lock is on the path, only a clock
// reading and one CAS. Its times are whole nanoseconds, too coarse for an
// exact bucket above 1e9 tokens a second; enough to time it.
type gcra struct {
	base     time.Time
	interval float64 // ns per token
	tau      int64   // ns the bucket takes to fill up
	empty    atomic.Int64
}

func newGCRA(limit rate.Limit, burst int) *gcra {
	g := &gcra{base: time.Now(), interval: 1e9 / float64(limit)}
	g.tau = int64(float64(burst) * g.interval)
	g.empty.Store(-g.tau) // full
	return g
}

func (g *gcra) allow() bool {
	for {
		now := int64(time.Since(g.base))
		e := g.empty.Load()
		next := float64(max(e, now-g.tau)) + g.interval
		if next > float64(now) {
			return false
		}
		if g.empty.CompareAndSwap(e, int64(next)) {
			return true
		}
	}
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

// BenchmarkRateLimiterPrecision runs jobs at 10,000 starts a second in real
// time and reports the achieved rate and its error. Run it with
// -benchtime=20000x for 2 s of starts.
func BenchmarkRateLimiterPrecision(b *testing.B) {
	const limit = 10_000
	p := Chain[int](NewPool[int](256), NewRateLimiter(limit, 1))
	var mu sync.Mutex
	var first, last time.Time
	job := func(context.Context) (int, error) {
		now := time.Now()
		mu.Lock()
		if first.IsZero() {
			first = now
		}
		last = now
		mu.Unlock()
		return 0, nil
	}
	ctx := context.Background()
	for b.Loop() {
		if _, err := p.Submit(ctx, job); err != nil {
			b.Fatal(err)
		}
	}
	_ = p.Close(ctx)
	if b.N > 1 {
		got := float64(b.N-1) / last.Sub(first).Seconds()
		b.ReportMetric(got, "starts/s")
		b.ReportMetric(100*(got-limit)/limit, "err%")
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
			_, _, _, _ = runGuarded(ctx, job, nil, false, true)
		}
	})
	b.Run("limiter, breaker", func(b *testing.B) {
		g := []Guard{NewRateLimiter(plentyRate, plentyBurst), NewBreaker(BreakerConfig{})}
		guards := &guardList{g: g, timed: wantElapsed(g)}
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
			_, _, _, _ = runGuarded(ctx, job, &a, false, true)
		}
	})
}
