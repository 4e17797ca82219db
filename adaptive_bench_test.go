package crew_test

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
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
		new  func() crew.Pool[int]
	}{
		{"pool", func() crew.Pool[int] { return crew.NewPool[int](workers) }},
		{"adaptive", func() crew.Pool[int] { return crew.NewAdaptivePool[int](1, workers) }},
		{"adaptive-noidle", func() crew.Pool[int] { return crew.NewAdaptivePool[int](1, workers, crew.WithIdleTimeout(0)) }},
		{"adaptive-limit", func() crew.Pool[int] {
			return crew.NewAdaptivePool[int](1, workers, crew.WithLimitControl(crew.LimitConfig{}))
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
					if _, err := crew.Do(ctx, p, job); !assert.NoError(b, err) {
						return
					}
				}
			})
			require.NoError(b, p.Close(ctx))
			require.Equal(b, int64(b.N), n.Load(), "jobs run")
		})
	}
}

// BenchmarkAdaptiveSubmit: fire-and-forget tiny jobs from one submitter.
func BenchmarkAdaptiveSubmit(b *testing.B) {
	workers := runtime.GOMAXPROCS(0)
	for _, k := range []struct {
		name string
		new  func() crew.Pool[int]
	}{
		{"pool", func() crew.Pool[int] { return crew.NewPool[int](workers) }},
		{"adaptive", func() crew.Pool[int] { return crew.NewAdaptivePool[int](1, workers) }},
	} {
		b.Run(k.name, func(b *testing.B) {
			ctx := context.Background()
			p := k.new()
			job := func(context.Context) (int, error) { return 1, nil }
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Submit(ctx, job); err != nil {
					require.NoError(b, err) // only then: require costs as much as a Submit
				}
			}
			require.NoError(b, p.Close(ctx))
		})
	}
}
