package benchmarks

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/ratelimiter"
	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"
)

// The guard peers, measured alone until crew's Breaker and RateLimiter land:
// each then gets a "crew" sub-benchmark beside these. Here b.N counts calls,
// made from GOMAXPROCS goroutines at once (RunParallel), and every
// sub-benchmark checks that each call ran exactly once.

// BenchmarkBreakerClosed is the cost of one successful call through a
// circuit breaker that stays closed.
func BenchmarkBreakerClosed(b *testing.B) {
	type breaker struct {
		name string
		new  func() func(fn func() (int, error)) (int, error)
	}
	breakers := []breaker{
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
	}
	for _, br := range breakers {
		b.Run(br.name, func(b *testing.B) {
			var ran atomic.Int64
			fn := func() (int, error) { ran.Add(1); return 1, nil }
			call := br.new()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if v, err := call(fn); err != nil || v != 1 {
						b.Errorf("%s: got %d, %v", br.name, v, err)
						return
					}
				}
			})
			if got := ran.Load(); got != int64(b.N) {
				b.Fatalf("%s: %d calls ran, want %d", br.name, got, b.N)
			}
		})
	}
}

// BenchmarkRateLimitAllow is the cost of taking one token that is there (the
// limit is far above the call rate, so no call waits or is refused).
func BenchmarkRateLimitAllow(b *testing.B) {
	type limiter struct {
		name string
		new  func() func() bool
	}
	limiters := []limiter{
		{"direct", func() func() bool { return func() bool { return true } }},
		{"xtime", func() func() bool {
			return rate.NewLimiter(rate.Limit(1e10), 1<<30).Allow
		}},
		{"failsafe", func() func() bool {
			return ratelimiter.NewBursty[any](1<<30, time.Second).TryAcquirePermit
		}},
	}
	for _, l := range limiters {
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
