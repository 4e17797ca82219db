package crew

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// BenchmarkRateLimiterGuard is the limiter as a pool drives it (Admit,
// Start, Done) when tokens are plentiful, beside x/time/rate's own Allow
// and Wait.
func BenchmarkRateLimiterGuard(b *testing.B) {
	ctx := context.Background()
	dl, cancel := context.WithDeadline(ctx, time.Now().Add(time.Hour))
	defer cancel()
	urgent := WithPriority(ctx, 5)
	serial := func(ctx context.Context, g Guard) func(b *testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				guardCall(ctx, g)
			}
		}
	}
	b.Run("guard", serial(ctx, NewRateLimiter(plentyRate, plentyBurst)))
	b.Run("guard with deadline", serial(dl, NewRateLimiter(plentyRate, plentyBurst)))
	b.Run("guard with max wait", serial(ctx, NewRateLimiter(plentyRate, plentyBurst, WithMaxWait(time.Second))))
	b.Run("guard with priority", serial(urgent, NewRateLimiter(plentyRate, plentyBurst)))
	b.Run("shared guard over rate.Limiter", serial(ctx, NewSharedRateLimiter(rate.NewLimiter(plentyRate, plentyBurst))))
	b.Run("baseline: rate.Limiter.Allow", func(b *testing.B) {
		l := rate.NewLimiter(plentyRate, plentyBurst)
		b.ReportAllocs()
		for b.Loop() {
			if !l.Allow() {
				b.Fatal("refused")
			}
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
}

// BenchmarkRateLimiterPrecision runs jobs at 10,000 starts a second in real
// time and reports the achieved rate and its error. Run it with
// -benchtime=20000x for 2 s of starts. The rate is the inverse of the
// least-squares slope of start time against start number, after the burst:
// a goroutine that wakes late on a busy machine moves one start, and (last
// - first) would charge it all to the rate.
func BenchmarkRateLimiterPrecision(b *testing.B) {
	const limit = 10_000
	for _, burst := range []int{1, 10} {
		b.Run(fmt.Sprintf("burst %d", burst), func(b *testing.B) {
			p := Chain[int](NewPool[int](256), NewRateLimiter(limit, burst))
			var mu sync.Mutex
			var starts []time.Time
			job := func(context.Context) (int, error) {
				now := time.Now()
				mu.Lock()
				starts = append(starts, now)
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
			slices.SortFunc(starts, time.Time.Compare)
			if len(starts) > burst+2 {
				got := 1 / slope(starts[burst:])
				b.ReportMetric(got, "starts/s")
				b.ReportMetric(100*(got-limit)/limit, "err%")
			}
		})
	}
}

// slope is the least-squares slope, in seconds per start, of the times t
// against their index.
func slope(t []time.Time) float64 {
	n := float64(len(t))
	var sx, sy, sxx, sxy float64
	for i, ti := range t {
		x, y := float64(i), ti.Sub(t[0]).Seconds()
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	return (n*sxy - sx*sy) / (n*sxx - sx*sx)
}
