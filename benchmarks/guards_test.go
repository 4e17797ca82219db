package benchmarks

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crew-go/crew"
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/ratelimiter"
	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"
)

// The guards beside their peers. Here b.N counts calls, made from
// GOMAXPROCS goroutines at once (RunParallel), and every sub-benchmark
// checks that each call ran exactly once. "crew-guard" is the path a pool
// takes per job through a Guard (Admit, Start, the call, Done), public API
// only; "crew-execute" is Breaker.Execute, which takes a func(ctx) error, so
// a typed result costs the caller a closure.

// BenchmarkBreakerClosed is the cost of one successful call through a
// circuit breaker that stays closed. cpu-ns/op is the process's CPU time per
// call (both cores' worth under RunParallel), steadier than ns/op on a
// shared machine.
func BenchmarkBreakerClosed(b *testing.B) {
	breakers := []struct {
		name string
		new  func() func(fn func() (int, error)) (int, error)
	}{
		{"direct", func() func(fn func() (int, error)) (int, error) {
			return func(fn func() (int, error)) (int, error) { return fn() }
		}},
		{"gobreaker", func() func(fn func() (int, error)) (int, error) {
			cb := gobreaker.NewCircuitBreaker[int](gobreaker.Settings{Name: "bench"})
			return cb.Execute
		}},
		{"failsafe", func() func(fn func() (int, error)) (int, error) {
			cb := circuitbreaker.NewWithDefaults[int]()
			ex := failsafe.With[int](cb)
			return ex.Get
		}},
		{"crew-guard", func() func(fn func() (int, error)) (int, error) {
			return guardPath(crew.NewBreaker(crew.BreakerConfig{}))
		}},
		{"crew-execute", func() func(fn func() (int, error)) (int, error) {
			br := crew.NewBreaker(crew.BreakerConfig{})
			ctx := context.Background()
			return func(fn func() (int, error)) (v int, err error) {
				err = br.Execute(ctx, func(context.Context) error {
					v, err = fn()
					return err
				})
				return v, err
			}
		}},
	}
	for _, br := range breakers {
		b.Run(br.name, func(b *testing.B) {
			var ran atomic.Int64
			fn := func() (int, error) { ran.Add(1); return 1, nil }
			call := br.new()
			b.ReportAllocs()
			cpu0 := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if v, err := call(fn); err != nil || v != 1 {
						b.Errorf("%s: got %d, %v", br.name, v, err)
						return
					}
				}
			})
			reportCPU(b, cpu0)
			if got := ran.Load(); got != int64(b.N) {
				b.Fatalf("%s: %d calls ran, want %d", br.name, got, b.N)
			}
		})
	}
}

// BenchmarkBreakerOpen is the cost of a refusal by an open circuit: what a
// server pays per request while its downstream is down. crew's refusal is a
// *RejectedError of its own, with a RetryAfter spread over RetrySpread, so
// it allocates; the peers return one shared error value.
func BenchmarkBreakerOpen(b *testing.B) {
	breakers := []struct {
		name string
		new  func() func(fn func() (int, error)) (int, error)
	}{
		{"gobreaker", func() func(fn func() (int, error)) (int, error) {
			cb := gobreaker.NewCircuitBreaker[int](gobreaker.Settings{
				Name: "bench", Timeout: time.Hour,
				ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= 1 },
			})
			_, _ = cb.Execute(func() (int, error) { return 0, errors.New("down") })
			return cb.Execute
		}},
		{"failsafe", func() func(fn func() (int, error)) (int, error) {
			cb := circuitbreaker.NewWithDefaults[int]()
			cb.Open()
			return failsafe.With[int](cb).Get
		}},
		{"crew-guard", func() func(fn func() (int, error)) (int, error) {
			br := crew.NewBreaker(crew.BreakerConfig{ResetTimeout: time.Hour})
			br.Trip()
			return guardPath(br)
		}},
		{"crew-execute", func() func(fn func() (int, error)) (int, error) {
			br := crew.NewBreaker(crew.BreakerConfig{ResetTimeout: time.Hour})
			br.Trip()
			ctx := context.Background()
			return func(fn func() (int, error)) (v int, err error) {
				err = br.Execute(ctx, func(context.Context) error {
					v, err = fn()
					return err
				})
				return v, err
			}
		}},
	}
	for _, br := range breakers {
		b.Run(br.name, func(b *testing.B) {
			var ran atomic.Int64
			fn := func() (int, error) { ran.Add(1); return 1, nil }
			call := br.new()
			b.ReportAllocs()
			cpu0 := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := call(fn); err == nil {
						b.Errorf("%s: an open circuit let a call through", br.name)
						return
					}
				}
			})
			reportCPU(b, cpu0)
			if got := ran.Load(); got != 0 {
				b.Fatalf("%s: %d calls ran through an open circuit", br.name, got)
			}
		})
	}
}

// BenchmarkBreakerStats is the cost of reading a breaker's counters, as a
// metrics scrape does, while other goroutines make successful calls through
// it (RunParallel; every 16th operation is a read, the rest are calls).
func BenchmarkBreakerStats(b *testing.B) {
	breakers := []struct {
		name        string
		call, stats func()
	}{
		{"gobreaker", nil, nil},
		{"crew", nil, nil},
	}
	gb := gobreaker.NewCircuitBreaker[int](gobreaker.Settings{Name: "bench"})
	breakers[0].call = func() { _, _ = gb.Execute(func() (int, error) { return 1, nil }) }
	breakers[0].stats = func() { _ = gb.Counts() }
	cb := crew.NewBreaker(crew.BreakerConfig{})
	ctx := context.Background()
	breakers[1].call = func() { _ = cb.Execute(ctx, func(context.Context) error { return nil }) }
	breakers[1].stats = func() { _ = cb.Stats() }
	for _, br := range breakers {
		b.Run(br.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				for i := 0; pb.Next(); i++ {
					if i%16 == 0 {
						br.stats()
					} else {
						br.call()
					}
				}
			})
			reportCPU(b, cpu0)
		})
	}
}

// reportCPU reports the process's CPU time since cpu0 per b.N.
func reportCPU(b *testing.B, cpu0 time.Duration) {
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// rateLimiters are the limiters of BenchmarkRateLimitAllow and
// BenchmarkRateLimitSerial, each a func that takes one token or says it
// could not. The limit is far above the call rate, so no call waits or is
// refused. dl is a ctx with a deadline far away.
func rateLimiters(dl context.Context) []struct {
	name string
	new  func() func() bool
} {
	fn := func() (int, error) { return 1, nil }
	viaGuard := func(ctx context.Context, g crew.Guard) func() bool {
		call := guardPathCtx(ctx, g)
		return func() bool { _, err := call(fn); return err == nil }
	}
	return []struct {
		name string
		new  func() func() bool
	}{
		{"direct", func() func() bool { return func() bool { return true } }},
		{"xtime", func() func() bool {
			return rate.NewLimiter(rate.Limit(1e10), 1<<30).Allow
		}},
		{"xtime-wait", func() func() bool {
			lim := rate.NewLimiter(rate.Limit(1e10), 1<<30)
			ctx := context.Background()
			return func() bool { return lim.Wait(ctx) == nil }
		}},
		{"failsafe", func() func() bool {
			return ratelimiter.NewBursty[any](1<<30, time.Second).TryAcquirePermit
		}},
		{"crew-guard", func() func() bool {
			return viaGuard(context.Background(), crew.NewRateLimiter(rate.Limit(1e10), 1<<30))
		}},
		{"crew-guard-deadline", func() func() bool {
			return viaGuard(dl, crew.NewRateLimiter(rate.Limit(1e10), 1<<30))
		}},
		{"crew-guard-maxwait", func() func() bool {
			return viaGuard(context.Background(), crew.NewRateLimiter(rate.Limit(1e10), 1<<30, crew.WithMaxWait(time.Second)))
		}},
		{"crew-guard-priority", func() func() bool {
			return viaGuard(crew.WithPriority(context.Background(), 5), crew.NewRateLimiter(rate.Limit(1e10), 1<<30))
		}},
		{"crew-shared-xtime", func() func() bool {
			return viaGuard(context.Background(), crew.NewSharedRateLimiter(rate.NewLimiter(rate.Limit(1e10), 1<<30)))
		}},
	}
}

// BenchmarkRateLimitAllow is the cost of taking one token that is there,
// from GOMAXPROCS goroutines at once.
func BenchmarkRateLimitAllow(b *testing.B) {
	dl, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	for _, l := range rateLimiters(dl) {
		b.Run(l.name, func(b *testing.B) {
			var ran atomic.Int64
			allow := l.new()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if !allow() {
						b.Errorf("%s: a token was refused", l.name)
						return
					}
					ran.Add(1)
				}
			})
			if got := ran.Load(); got != int64(b.N) {
				b.Fatalf("%s: %d calls ran, want %d", l.name, got, b.N)
			}
		})
	}
}

// BenchmarkRateLimitSerial is the same from one goroutine: the
// uncontended cost of a token.
func BenchmarkRateLimitSerial(b *testing.B) {
	dl, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	for _, l := range rateLimiters(dl) {
		b.Run(l.name, func(b *testing.B) {
			allow := l.new()
			b.ReportAllocs()
			for b.Loop() {
				if !allow() {
					b.Fatalf("%s: a token was refused", l.name)
				}
			}
		})
	}
}

// guardPath runs a call through guards as a crew pool does per job: every
// Admit, every Start with its Admit ticket, the call, every Done.
func guardPath(guards ...crew.Guard) func(fn func() (int, error)) (int, error) {
	return guardPathCtx(context.Background(), guards...)
}

// guardPathCtx is guardPath with the job's ctx.
func guardPathCtx(ctx context.Context, guards ...crew.Guard) func(fn func() (int, error)) (int, error) {
	return func(fn func() (int, error)) (int, error) {
		var adm, run [4]crew.Ticket
		for i, g := range guards {
			t, err := g.Admit(ctx)
			if err != nil {
				return 0, err
			}
			adm[i] = t
		}
		for i, g := range guards {
			t, err := g.Start(ctx, adm[i])
			if err != nil {
				return 0, err
			}
			run[i] = t
		}
		v, err := fn()
		for i := len(guards) - 1; i >= 0; i-- {
			guards[i].Done(run[i], err, 0)
		}
		return v, err
	}
}

// BenchmarkComposedGuards is the cost of a rate limiter and a circuit breaker
// composed around one call: crew's guard path against failsafe-go's executor
// with the same two policies, with limits far above the call rate.
func BenchmarkComposedGuards(b *testing.B) {
	type composed struct {
		name string
		new  func() func(fn func() (int, error)) (int, error)
	}
	all := []composed{
		{"direct", func() func(fn func() (int, error)) (int, error) {
			return func(fn func() (int, error)) (int, error) { return fn() }
		}},
		{"crew", func() func(fn func() (int, error)) (int, error) {
			return guardPath(crew.NewRateLimiter(rate.Limit(1e10), 1<<30), crew.NewBreaker(crew.BreakerConfig{}))
		}},
		{"failsafe", func() func(fn func() (int, error)) (int, error) {
			rl := ratelimiter.NewBursty[int](1<<30, time.Second)
			cb := circuitbreaker.NewWithDefaults[int]()
			return failsafe.With[int](rl, cb).Get
		}},
	}
	for _, c := range all {
		b.Run(c.name, func(b *testing.B) {
			var ran atomic.Int64
			fn := func() (int, error) { ran.Add(1); return 1, nil }
			call := c.new()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if v, err := call(fn); err != nil || v != 1 {
						b.Errorf("%s: got %d, %v", c.name, v, err)
						return
					}
				}
			})
			if got := ran.Load(); got != int64(b.N) {
				b.Fatalf("%s: %d calls ran, want %d", c.name, got, b.N)
			}
		})
	}
}

// BenchmarkPoolChain is what Chain(limiter, breaker) adds to a job on a pool:
// Do on a bare NewPool against Do on the same pool behind both guards.
func BenchmarkPoolChain(b *testing.B) {
	for _, guarded := range []bool{false, true} {
		name := "bare"
		if guarded {
			name = "chain"
		}
		b.Run(name, func(b *testing.B) {
			var p crew.Pool[int] = crew.NewPool[int](runtime.GOMAXPROCS(0))
			if guarded {
				p = crew.Chain(p, crew.NewRateLimiter(rate.Limit(1e10), 1<<30), crew.NewBreaker(crew.BreakerConfig{}))
			}
			var ran atomic.Int64
			job := func(context.Context) (int, error) { ran.Add(1); return 1, nil }
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if v, err := crew.Do(ctx, p, job); err != nil || v != 1 {
						b.Errorf("got %d, %v", v, err)
						return
					}
				}
			})
			if err := p.Close(ctx); err != nil {
				b.Fatal(err)
			}
			if got := ran.Load(); got != int64(b.N) {
				b.Fatalf("%d jobs ran, want %d", got, b.N)
			}
		})
	}
}
