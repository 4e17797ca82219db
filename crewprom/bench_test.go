package crewprom_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crew-go/crew"
	"github.com/crew-go/crew/crewprom"
)

// observers are the ways a benchmark's pool is built: no Observer (the
// baseline), an Observer whose callbacks do nothing (what crew's side
// costs: the clock readings), and crewprom's.
var observers = []struct {
	name string
	opts func() []crew.Option
}{
	{"observer=none", func() []crew.Option { return nil }},
	{"observer=noop", func() []crew.Option {
		return []crew.Option{crew.WithObserver(crew.Observer{JobDone: func(crew.JobInfo) {}, Refused: func(string, error) {}})}
	}},
	{"observer=crewprom", func() []crew.Option {
		return []crew.Option{crew.WithObserver(crewprom.NewObserver("bench").Observer())}
	}},
}

// BenchmarkPoolSubmit: fire-and-forget trivial jobs from one submitter to
// GOMAXPROCS workers, as the root module's BenchmarkPoolSubmit, per
// Observer. crewprom's cost per job is its ns/op less none's; noop's less none's is
// crew's share (the clock readings an Observer needs).
func BenchmarkPoolSubmit(b *testing.B) {
	ctx := context.Background()
	job := func(context.Context) (int, error) { return 0, nil }
	for _, o := range observers {
		b.Run(o.name, func(b *testing.B) {
			b.ReportAllocs()
			p := crew.NewPool[int](runtime.GOMAXPROCS(0), o.opts()...)
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

// BenchmarkPoolDo: submit and wait from parallel callers, per Observer.
func BenchmarkPoolDo(b *testing.B) {
	ctx := context.Background()
	job := func(context.Context) (int, error) { return 1, nil }
	for _, o := range observers {
		b.Run(o.name, func(b *testing.B) {
			b.ReportAllocs()
			p := crew.NewPool[int](runtime.GOMAXPROCS(0), o.opts()...)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := crew.Do(ctx, p, job); err != nil {
						b.Error(err)
						return
					}
				}
			})
			if err := p.Close(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkJobDone: crewprom's JobDone callback alone, for a job that ran,
// from one goroutine and from GOMAXPROCS at once; beside it, the naive
// baseline: the same two histograms as client_golang's
// prometheus.Histogram.
func BenchmarkJobDone(b *testing.B) {
	info := crew.JobInfo{Wait: 300 * time.Microsecond, Run: 20 * time.Millisecond, Ran: true}
	for _, impl := range []struct {
		name string
		done func() func(crew.JobInfo)
	}{
		{"impl=crewprom", func() func(crew.JobInfo) { return crewprom.NewObserver("bench").Observer().JobDone }},
		{"impl=client_golang", func() func(crew.JobInfo) {
			wait := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "wait_seconds", Buckets: buckets})
			run := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "run_seconds", Buckets: buckets})
			return func(info crew.JobInfo) {
				wait.Observe(info.Wait.Seconds())
				if info.Ran {
					run.Observe(info.Run.Seconds())
				}
			}
		}},
	} {
		b.Run(impl.name+"/callers=1", func(b *testing.B) {
			b.ReportAllocs()
			done := impl.done()
			for b.Loop() {
				done(info)
			}
		})
		b.Run(impl.name+"/callers=GOMAXPROCS", func(b *testing.B) {
			b.ReportAllocs()
			done := impl.done()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					done(info)
				}
			})
		})
	}
}

// buckets are crewprom's default buckets, for the baseline.
var buckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// BenchmarkRefused: crewprom's Refused callback, for a guard already seen.
func BenchmarkRefused(b *testing.B) {
	b.ReportAllocs()
	refused := crewprom.NewObserver("bench").Observer().Refused
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			refused("ratelimit", crew.ErrRateLimited)
		}
	})
}
