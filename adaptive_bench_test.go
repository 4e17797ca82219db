package crew

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
)

// BenchmarkAdaptiveSteady: a steady load of tiny jobs from parallel callers
// (Submit and Wait), on NewPool with max workers, the adaptive pool with the
// same max (growing from min 1, default idle timeout), and the adaptive pool
// under the limit controller. The target: adaptive within 1.1x of the plain
// pool's ns per job.
func BenchmarkAdaptiveSteady(b *testing.B) {
	workers := runtime.GOMAXPROCS(0)
	for _, k := range []struct {
		name string
		new  func() Pool[int]
	}{
		{"pool", func() Pool[int] { return NewPool[int](workers) }},
		{"adaptive", func() Pool[int] { return NewAdaptivePool[int](1, workers) }},
		{"adaptive-noidle", func() Pool[int] { return NewAdaptivePool[int](1, workers, WithIdleTimeout(0)) }},
		{"adaptive-limit", func() Pool[int] {
			return NewAdaptivePool[int](1, workers, WithLimitControl(LimitConfig{}))
		}},
	} {
		b.Run(k.name, func(b *testing.B) {
			ctx := context.Background()
			p := k.new()
			var n atomic.Int64
			job := func(context.Context) (int, error) { n.Add(1); return 1, nil }
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := Do(ctx, p, job); err != nil {
						b.Error(err)
						return
					}
				}
			})
			if err := p.Close(ctx); err != nil {
				b.Fatal(err)
			}
			if n.Load() != int64(b.N) {
				b.Fatalf("ran %d of %d", n.Load(), b.N)
			}
		})
	}
}

// BenchmarkAdaptiveSubmit: fire-and-forget tiny jobs from one submitter.
func BenchmarkAdaptiveSubmit(b *testing.B) {
	workers := runtime.GOMAXPROCS(0)
	for _, k := range []struct {
		name string
		new  func() Pool[int]
	}{
		{"pool", func() Pool[int] { return NewPool[int](workers) }},
		{"adaptive", func() Pool[int] { return NewAdaptivePool[int](1, workers) }},
	} {
		b.Run(k.name, func(b *testing.B) {
			ctx := context.Background()
			p := k.new()
			job := func(context.Context) (int, error) { return 1, nil }
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Submit(ctx, job); err != nil {
					b.Fatal(err)
				}
			}
			if err := p.Close(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}
