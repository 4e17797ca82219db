package crew_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/crew-go/crew"
)

// The Batcher against the naive pattern (a channel, a goroutine, a ticker,
// a reply channel per item) on a no-op bulk call, batch size 100. Each
// benchmark submits b.N items without waiting for each, then waits for all,
// so ns/op is the amortized cost of one item through the whole pipeline.
//
//	go test -run '^$' -bench 'Batch' -benchmem -count 10 . | benchstat -

const benchBatch = 100

func noopBulk(_ context.Context, items []int) ([]struct{}, error) {
	return make([]struct{}, len(items)), nil // zero-size elements: no allocation
}

func BenchmarkBatcher(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		bt := crew.NewBatcher(noopBulk, crew.WithBatchSize(benchBatch))
		defer cpuPerOp(b)()
		for i := 0; i < b.N; i++ {
			if _, err := bt.Submit(context.Background(), i); err != nil {
				b.Fatal(err)
			}
		}
		if err := bt.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		bt := crew.NewBatcher(noopBulk, crew.WithBatchSize(benchBatch))
		defer cpuPerOp(b)()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if _, err := bt.Submit(context.Background(), i); err != nil {
					b.Fatal(err)
				}
			}
		})
		if err := bt.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
	})
}

func BenchmarkNaiveBatcher(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		nb := newNaiveBatcher(noopBulk, benchBatch, crew.DefaultBatchWait)
		defer cpuPerOp(b)()
		for i := 0; i < b.N; i++ {
			nb.submit(i)
		}
		nb.close()
	})
	b.Run("parallel", func(b *testing.B) {
		nb := newNaiveBatcher(noopBulk, benchBatch, crew.DefaultBatchWait)
		defer cpuPerOp(b)()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				nb.submit(i)
			}
		})
		nb.close()
	})
}

// cpuPerOp reports allocations and the process's CPU time per op, which a
// loaded machine distorts less than ns/op. Call its result when done.
func cpuPerOp(b *testing.B) func() {
	b.ReportAllocs()
	start := processCPU()
	return func() {
		b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkBatcherLightLoad measures what batching costs a lone caller: one
// item at a time, each waited for, so every batch is cut by the batch wait.
// It reports the p50 and p99 of an item's wait (Submit to its batch's start,
// what guarantee 10 bounds), the p99 minus the batch wait (target: under
// 1 ms on an idle machine) and the p99 from Submit to result.
func BenchmarkBatcherLightLoad(b *testing.B) {
	const wait = crew.DefaultBatchWait
	var started time.Time // written by fn, read after Wait: the Future orders them
	fn := func(_ context.Context, items []int) ([]struct{}, error) {
		started = time.Now()
		return make([]struct{}, len(items)), nil
	}
	bt := crew.NewBatcher(fn, crew.WithBatchSize(benchBatch), crew.WithBatchWait(wait))
	ctx := context.Background()
	waits := make([]time.Duration, 0, b.N)
	total := make([]time.Duration, 0, b.N)
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		f, err := bt.Submit(ctx, i)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Wait(ctx); err != nil {
			b.Fatal(err)
		}
		total = append(total, time.Since(t0))
		waits = append(waits, started.Sub(t0))
	}
	b.StopTimer()
	if err := bt.Close(ctx); err != nil {
		b.Fatal(err)
	}
	at := func(d []time.Duration, p float64) time.Duration {
		slices.Sort(d)
		return d[int(p*float64(len(d)-1))]
	}
	b.ReportMetric(float64(at(waits, 0.50))/1e6, "p50-wait-ms")
	b.ReportMetric(float64(at(waits, 0.99))/1e6, "p99-wait-ms")
	b.ReportMetric(float64(at(waits, 0.99)-wait)/1e6, "p99-over-wait-ms")
	b.ReportMetric(float64(at(total, 0.99))/1e6, "p99-result-ms")
}

// naiveBatcher is the pattern the Batcher replaces: one goroutine reads a
// channel into a buffer and flushes it when full or when a ticker fires;
// each item carries its own reply channel.
type naiveBatcher[In, Out any] struct {
	in   chan naiveReq[In, Out]
	done chan struct{}
	wg   sync.WaitGroup
}

type naiveReq[In, Out any] struct {
	item  In
	reply chan naiveResult[Out]
}

type naiveResult[Out any] struct {
	v   Out
	err error
}

func newNaiveBatcher[In, Out any](fn crew.BatchFunc[In, Out], size int, wait time.Duration) *naiveBatcher[In, Out] {
	nb := &naiveBatcher[In, Out]{in: make(chan naiveReq[In, Out], size), done: make(chan struct{})}
	nb.wg.Go(func() {
		ticker := time.NewTicker(wait)
		defer ticker.Stop()
		buf := make([]naiveReq[In, Out], 0, size)
		flush := func() {
			if len(buf) == 0 {
				return
			}
			items := make([]In, len(buf))
			for i, r := range buf {
				items[i] = r.item
			}
			outs, err := fn(context.Background(), items)
			for i, r := range buf {
				if err != nil {
					r.reply <- naiveResult[Out]{err: err}
				} else {
					r.reply <- naiveResult[Out]{v: outs[i]}
				}
			}
			buf = buf[:0]
		}
		for {
			select {
			case r, ok := <-nb.in:
				if !ok {
					flush()
					return
				}
				buf = append(buf, r)
				if len(buf) == size {
					flush()
				}
			case <-ticker.C:
				flush()
			}
		}
	})
	return nb
}

func (nb *naiveBatcher[In, Out]) submit(item In) chan naiveResult[Out] {
	reply := make(chan naiveResult[Out], 1)
	nb.in <- naiveReq[In, Out]{item: item, reply: reply}
	return reply
}

func (nb *naiveBatcher[In, Out]) close() {
	close(nb.in)
	nb.wg.Wait()
}
