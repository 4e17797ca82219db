package benchmarks

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/alitto/pond/v2"
	"github.com/crew-go/crew"
	"github.com/panjf2000/ants/v2"
)

// BenchmarkDo measures submit-and-wait: every op hands one job returning a
// value to a shared pool of GOMAXPROCS workers and waits for the value, from
// GOMAXPROCS goroutines at once (RunParallel). Here b.N counts ops, so ns/op
// is per job; each sub-benchmark checks that all b.N jobs ran.
func BenchmarkDo(b *testing.B) {
	for _, d := range doers {
		b.Run(d.name, func(b *testing.B) {
			var ran atomic.Int64
			work := func() int { ran.Add(1); return 1 }
			call, closeFn := d.new(procs, work)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				call := call() // per goroutine: its own reply channel, if any
				for pb.Next() {
					v, err := call()
					if err != nil || v != 1 {
						b.Errorf("%s: got %d, %v", d.name, v, err)
						return
					}
				}
			})
			b.StopTimer()
			closeFn()
			if got := ran.Load(); got != int64(b.N) {
				b.Fatalf("%s: %d jobs ran, want %d", d.name, got, b.N)
			}
		})
	}
}

// doer builds a shared pool of workers running work. call returns, for one
// calling goroutine, a func that runs work once on the pool and returns its
// value; closeFn releases the pool.
type doer struct {
	name string
	new  func(workers int, work func() int) (call func() func() (int, error), closeFn func())
}

var doers = []doer{
	{"crew", func(workers int, work func() int) (func() func() (int, error), func()) {
		p := crew.NewPool[int](workers)
		job := crew.Job[int](func(context.Context) (int, error) { return work(), nil })
		ctx := context.Background()
		return func() func() (int, error) {
				return func() (int, error) { return crew.Do(ctx, p, job) }
			},
			func() { p.Close(ctx) }
	}},
	{"pond", func(workers int, work func() int) (func() func() (int, error), func()) {
		p := pond.NewResultPool[int](workers)
		task := func() (int, error) { return work(), nil }
		return func() func() (int, error) {
				return func() (int, error) { return p.SubmitErr(task).Wait() }
			},
			p.StopAndWait
	}},
	{"ants", func(workers int, work func() int) (func() func() (int, error), func()) {
		p, err := ants.NewPool(workers)
		if err != nil {
			panic(err)
		}
		return func() func() (int, error) {
				ch := make(chan int, 1)
				task := func() { ch <- work() }
				return func() (int, error) {
					if err := p.Submit(task); err != nil {
						return 0, err
					}
					return <-ch, nil
				}
			},
			func() { p.ReleaseTimeout(timeoutRelease) }
	}},
	{"goroutine", func(_ int, work func() int) (func() func() (int, error), func()) {
		return func() func() (int, error) {
				ch := make(chan int, 1)
				task := func() { ch <- work() }
				return func() (int, error) {
					go task()
					return <-ch, nil
				}
			},
			func() {}
	}},
	{"channel", func(workers int, work func() int) (func() func() (int, error), func()) {
		reqs := make(chan chan int, channelBuffer)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for reply := range reqs {
					reply <- work()
				}
			})
		}
		return func() func() (int, error) {
				reply := make(chan int, 1)
				return func() (int, error) {
					reqs <- reply
					return <-reply, nil
				}
			},
			func() { close(reqs); wg.Wait() }
	}},
}
