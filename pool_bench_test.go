package crew_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

// BenchmarkPoolSubmit: fire-and-forget trivial jobs from one submitter, the
// Futures ignored; beside it, the naive baseline of a goroutine per job.
func BenchmarkPoolSubmit(b *testing.B) {
	ctx := context.Background()
	b.Run("crew", func(b *testing.B) {
		b.ReportAllocs()
		var n atomic.Int64
		p := crew.NewPool[struct{}](runtime.GOMAXPROCS(0))
		job := func(context.Context) (struct{}, error) { n.Add(1); return struct{}{}, nil }
		for b.Loop() {
			if _, err := p.Submit(ctx, job); err != nil {
				require.NoError(b, err) // only then: require costs as much as a Submit
			}
		}
		require.NoError(b, p.Close(ctx))
		require.Equal(b, int64(b.N), n.Load(), "jobs run")
	})
	b.Run("goroutines", func(b *testing.B) {
		b.ReportAllocs()
		var n atomic.Int64
		var wg sync.WaitGroup
		for b.Loop() {
			wg.Go(func() { n.Add(1) })
		}
		wg.Wait()
	})
}

// BenchmarkPoolDo: submit and wait, from parallel callers.
func BenchmarkPoolDo(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	p := crew.NewPool[int](runtime.GOMAXPROCS(0))
	job := func(context.Context) (int, error) { return 1, nil }
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := crew.Do(ctx, p, job); !assert.NoError(b, err) {
				return
			}
		}
	})
	require.NoError(b, p.Close(ctx))
}
