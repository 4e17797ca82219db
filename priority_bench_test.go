package crew

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew/internal/queue"
)

// BenchmarkPrioritySubmit measures Submit plus run of tiny jobs from
// parallel submitters: NewPool as the baseline, then the priority pool with
// one level, eight levels (aging on) and eight levels in strict order.
func BenchmarkPrioritySubmit(b *testing.B) {
	levels := make([]context.Context, 8)
	for i := range levels {
		levels[i] = WithPriority(context.Background(), i)
	}
	tiny := func(context.Context) (int, error) { return 1, nil }
	pools := []struct {
		name   string
		new    func() Pool[int]
		levels int
	}{
		{"pool", func() Pool[int] { return NewPool[int](runtime.GOMAXPROCS(0)) }, 1},
		{"priority/levels=1", func() Pool[int] { return NewPriorityPool[int](runtime.GOMAXPROCS(0)) }, 1},
		{"priority/levels=8", func() Pool[int] { return NewPriorityPool[int](runtime.GOMAXPROCS(0)) }, 8},
		{"priority/levels=8/strict", func() Pool[int] { return NewPriorityPool[int](runtime.GOMAXPROCS(0), WithAging(0)) }, 8},
	}
	for _, pc := range pools {
		b.Run(pc.name, func(b *testing.B) {
			p := pc.new()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := p.Submit(levels[i%pc.levels], tiny); !assert.NoError(b, err) {
						return
					}
					i++
				}
			})
			require.NoError(b, p.Close(context.Background()))
		})
	}
}

// BenchmarkPriorityQueue measures one pop and one push on a queue holding n
// jobs over eight levels, beside NewPool's FIFO: the work does not grow with
// n, only the cache misses do. It also reports the heap bytes per queued
// job of a PriorityPool and of a WorkerPool holding 1e6 jobs.
func BenchmarkPriorityQueue(b *testing.B) {
	queues := []struct {
		name string
		new  func() discipline[int]
	}{
		{"fifo", func() discipline[int] { return &fifo[int]{} }},
		{"priority", func() discipline[int] { return prio[int]{queue.NewPriority[task[int]](time.Millisecond, false)} }},
		{"priority/evict", func() discipline[int] { return prio[int]{queue.NewPriority[task[int]](time.Millisecond, true)} }},
	}
	for _, qc := range queues {
		for _, n := range []int{1e3, 1e5, 1e6} {
			b.Run(fmt.Sprintf("%s/queued=%d", qc.name, n), func(b *testing.B) {
				benchQueue(b, qc.new(), n)
			})
		}
	}
	b.Run("pool-bytes/queued=1e6", func(b *testing.B) {
		const n = 1e6
		for range b.N {
			b.ReportMetric(queuedBytes(b, n, func(opts ...Option) Pool[int] { return NewPriorityPool[int](1, opts...) }), "B/queued-job")
			b.ReportMetric(queuedBytes(b, n, func(opts ...Option) Pool[int] { return NewPool[int](1, opts...) }), "B/queued-job(pool)")
		}
	})
}

func benchQueue(b *testing.B, q discipline[int], n int) {
	fs := make([]*task[int], n)
	for i := range fs {
		fs[i] = &task[int]{ctx: WithPriority(context.Background(), i%8)}
		q.push(fs[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		q.push(q.pop())
	}
}

// queuedBytes returns the heap bytes per job of a pool holding n queued
// jobs, all the same closure with the same ctx.
func queuedBytes(b *testing.B, n int, newPool func(...Option) Pool[int]) float64 {
	ctx := WithPriority(context.Background(), 3)
	release := make(chan struct{})
	hold := func(context.Context) (int, error) { <-release; return 0, nil }
	tiny := func(context.Context) (int, error) { return 1, nil }
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	p := newPool(WithQueueSize(n))
	_, err := p.Submit(ctx, hold)
	require.NoError(b, err)
	for range n {
		if _, err := p.Submit(ctx, tiny); err != nil {
			require.NoError(b, err) // only then: require costs as much as a Submit
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	close(release)
	require.NoError(b, p.Close(context.Background()))
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}
