package benchmarks

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crew-go/crew"
)

// The priority pool's targets (issue 3): tiny jobs over eight priority
// levels cost at most 1.5x what they cost on NewPool; a million queued jobs
// cost the pool at most 120 bytes each; a push and a pop cost about the
// same with a thousand jobs queued as with a million.

// levels are the ctxs of eight priority levels, made once.
var levels = func() []context.Context {
	ctxs := make([]context.Context, 8)
	for i := range ctxs {
		ctxs[i] = crew.WithPriority(context.Background(), i)
	}
	return ctxs
}()

// crewPriorityRunner submits to a PriorityPool, cycling through the eight
// levels.
type crewPriorityRunner struct {
	p   *crew.PriorityPool[struct{}]
	job crew.Job[struct{}]
	i   atomic.Uint32
}

// newCrewPriority builds priority pools with the given aging step (0:
// strict order).
func newCrewPriority(step time.Duration) func(int, func()) runner {
	return func(workers int, task func()) runner {
		return &crewPriorityRunner{
			p:   crew.NewPriorityPool[struct{}](workers, crew.WithAging(step)),
			job: func(context.Context) (struct{}, error) { task(); return struct{}{}, nil },
		}
	}
}

// crewLevelsRunner submits to NewPool with the same eight ctxs, which it
// ignores: the baseline that pays for the same ctxs, not for priorities.
type crewLevelsRunner struct {
	p   *crew.WorkerPool[struct{}]
	job crew.Job[struct{}]
	i   atomic.Uint32
}

func newCrewLevels(workers int, task func()) runner {
	return &crewLevelsRunner{
		p:   crew.NewPool[struct{}](workers),
		job: func(context.Context) (struct{}, error) { task(); return struct{}{}, nil },
	}
}

func (r *crewLevelsRunner) Submit() error {
	return r.p.Go(levels[r.i.Add(1)%8], r.job)
}

func (r *crewLevelsRunner) Close() error { return r.p.Close(context.Background()) }

func (r *crewPriorityRunner) Submit() error {
	return r.p.Go(levels[r.i.Add(1)%8], r.job)
}

func (r *crewPriorityRunner) Close() error { return r.p.Close(context.Background()) }

// BenchmarkPriorityTiny is Tiny (a million atomic adds, one submitter,
// GOMAXPROCS workers) on NewPool and on a PriorityPool whose jobs are spread
// over eight levels, with aging (the default step) and in strict order.
// NewPool runs twice: with context.Background, and with the priority pool's
// eight ctxs, which it ignores but pays for (a job ctx of its own).
func BenchmarkPriorityTiny(b *testing.B) {
	w := workload{tasks: 1_000_000, submitters: 1, workers: procs}
	for _, l := range []lib{
		{"NewPool", newCrew},
		{"NewPool/same-ctxs", newCrewLevels},
		{"PriorityPool/levels=8", newCrewPriority(crew.DefaultAgingStep)},
		{"PriorityPool/levels=8/strict", newCrewPriority(0)},
	} {
		b.Run(l.name, func(b *testing.B) { runWorkload(b, l, w, &stats{}) })
	}
}

// BenchmarkPriorityQueued keeps n jobs over eight levels queued in a
// PriorityPool of one worker: each op is one Submit, which waits for the
// room the worker's next pop frees, so it is one push, one pop and the
// hand-off between them. ns/op should not grow with n (it grows only by
// cache misses). It also reports the heap bytes per queued job with n
// queued, as pool-B/job (the job's closure, shared by all, not counted).
func BenchmarkPriorityQueued(b *testing.B) {
	for _, n := range []int{1e3, 1e5, 1e6} {
		b.Run(fmt.Sprintf("queued=%d", n), func(b *testing.B) {
			var ran atomic.Int64
			job := func(context.Context) (struct{}, error) { ran.Add(1); return struct{}{}, nil }
			held, release := make(chan struct{}), make(chan struct{})
			hold := func(context.Context) (struct{}, error) { close(held); <-release; return struct{}{}, nil }

			runtime.GC()
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			p := crew.NewPriorityPool[struct{}](1, crew.WithQueueSize(n))
			if _, err := p.Submit(context.Background(), hold); err != nil {
				b.Fatal(err)
			}
			<-held // the worker is busy: every job below stays queued
			for i := range n {
				if _, err := p.Submit(levels[i%8], job); err != nil {
					b.Fatal(err)
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&m1)
			if q := p.Stats().Queued; q != n {
				b.Fatalf("%d jobs queued, want %d", q, n)
			}
			close(release)

			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := p.Submit(levels[i%8], job); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if err := p.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
			if got := ran.Load(); got != int64(n+b.N) {
				b.Fatalf("%d jobs ran, want %d", got, n+b.N)
			}
			b.ReportMetric(float64(m1.HeapAlloc-min(m1.HeapAlloc, m0.HeapAlloc))/float64(n), "pool-B/job")
		})
	}
}
