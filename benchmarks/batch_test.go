package benchmarks

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/crew-go/crew"
)

// The Batcher against the naive pattern it replaces (a channel, one
// goroutine, a ticker, a reply channel per item) on the same no-op bulk
// call, batch size 100 (issue 6). b.N counts items, so ns/op and cpu-ns/op
// are per item, from Submit to the caller holding its answer.
//
// Each submitter keeps its last batchWindow items in flight and takes the
// answer of the oldest one as it submits a new one, as a caller reading its
// reply would (waiting if it has not come yet), then takes the rest at the
// end. An answer that is missing, failed or not the item's own fails the
// benchmark.

const (
	batchSize   = 100
	batchWindow = 1024 // items in flight per submitter
)

// echoBulk is the no-op bulk call: each item's answer is the item itself,
// so a caller can tell its own answer from another's. It allocates nothing.
func echoBulk(_ context.Context, items []int) ([]int, error) { return items, nil }

// batchDriver submits items to one batcher; H is what a caller holds until
// its answer comes (a Future, a reply channel).
type batchDriver[H any] struct {
	submit func(v int) (H, error)
	answer func(h H) (int, error) // waits for it
	close  func() error
}

func BenchmarkBatcher(b *testing.B) {
	for _, parallel := range []bool{false, true} {
		mode := "serial"
		if parallel {
			mode = "parallel"
		}
		b.Run("crew/"+mode, func(b *testing.B) { runBatcher(b, parallel, newCrewBatcher) })
		b.Run("naive/"+mode, func(b *testing.B) { runBatcher(b, parallel, newNaiveDriver) })
	}
}

func newCrewBatcher() batchDriver[*crew.Future[int]] {
	bt := crew.NewBatcher(echoBulk, crew.WithBatchSize(batchSize))
	ctx := context.Background()
	return batchDriver[*crew.Future[int]]{
		submit: func(v int) (*crew.Future[int], error) { return bt.Submit(ctx, v) },
		answer: func(f *crew.Future[int]) (int, error) { return f.Wait(ctx) },
		close:  func() error { return bt.Close(ctx) },
	}
}

func newNaiveDriver() batchDriver[naiveReply[int]] {
	nb := newNaiveBatcher(echoBulk, batchSize, crew.DefaultBatchWait)
	return batchDriver[naiveReply[int]]{
		submit: func(v int) (naiveReply[int], error) { return nb.submit(v), nil },
		answer: func(r naiveReply[int]) (int, error) { a := <-r; return a.v, a.err },
		close:  func() error { nb.close(); return nil },
	}
}

// runBatcher pushes b.N items through a new batcher from one goroutine, or
// from GOMAXPROCS goroutines (RunParallel), and checks every answer.
func runBatcher[H any](b *testing.B, parallel bool, newDriver func() batchDriver[H]) {
	d := newDriver()
	var (
		mu       sync.Mutex
		answered int
		failure  error
	)
	// feed submits items first, first+1, ... while next says so, keeping
	// batchWindow in flight, and counts the right answers.
	feed := func(first int, next func() bool) {
		window := make([]H, batchWindow)
		vals := make([]int, batchWindow)
		in, ok := 0, 0
		take := func(i int) bool {
			v, err := d.answer(window[i])
			if err != nil || v != vals[i] {
				mu.Lock()
				failure = cmp.Or(failure, fmt.Errorf("item %d: answer %d, %v", vals[i], v, err))
				mu.Unlock()
				return false
			}
			var zero H
			window[i] = zero
			ok++
			return true
		}
		for v := first; next(); v++ {
			i := in % batchWindow
			if in >= batchWindow && !take(i) {
				break
			}
			h, err := d.submit(v)
			if err != nil {
				mu.Lock()
				failure = cmp.Or(failure, fmt.Errorf("Submit(%d): %v", v, err))
				mu.Unlock()
				break
			}
			window[i], vals[i] = h, v
			in++
		}
		for k := max(0, in-batchWindow); k < in; k++ {
			if !take(k % batchWindow) {
				break
			}
		}
		mu.Lock()
		answered += ok
		mu.Unlock()
	}

	b.ReportAllocs()
	cpu0 := processCPU()
	b.ResetTimer()
	if parallel {
		var (
			gmu  sync.Mutex
			base int
		)
		b.RunParallel(func(pb *testing.PB) {
			gmu.Lock()
			first := base
			base += 1 << 40 // each goroutine its own items
			gmu.Unlock()
			feed(first, pb.Next)
		})
	} else {
		n := 0
		feed(0, func() bool { n++; return n <= b.N })
	}
	b.StopTimer()
	cpu := processCPU() - cpu0
	if err := d.close(); err != nil {
		b.Fatalf("Close: %v", err)
	}
	if failure != nil {
		b.Fatal(failure)
	}
	if answered != b.N {
		b.Fatalf("%d answers, want %d", answered, b.N)
	}
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkBatcherLightLoad measures what batching costs a lone caller: one
// item at a time, each waited for, so every batch is cut by the batch wait
// (crew.DefaultBatchWait, 5 ms). It reports the p50 and p99 of an item's
// wait (from Submit to its batch's start, which guarantee 10 bounds), the
// p99 over the batch wait (issue 6: at most 1 ms) and the p99 from Submit to
// answer. b.N counts items; each takes about the batch wait.
func BenchmarkBatcherLightLoad(b *testing.B) {
	const wait = crew.DefaultBatchWait
	var started time.Time // written by fn, read after Wait: the Future orders them
	fn := func(_ context.Context, items []int) ([]int, error) {
		started = time.Now()
		return items, nil
	}
	bt := crew.NewBatcher(fn, crew.WithBatchSize(batchSize), crew.WithBatchWait(wait))
	ctx := context.Background()
	waits := make([]time.Duration, 0, b.N)
	total := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		f, err := bt.Submit(ctx, i)
		if err != nil {
			b.Fatal(err)
		}
		v, err := f.Wait(ctx)
		if err != nil || v != i {
			b.Fatalf("item %d: answer %d, %v", i, v, err)
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
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	b.ReportMetric(ms(at(waits, 0.50)), "p50-wait-ms")
	b.ReportMetric(ms(at(waits, 0.99)), "p99-wait-ms")
	b.ReportMetric(ms(at(waits, 0.99)-wait), "p99-over-wait-ms")
	b.ReportMetric(ms(at(total, 0.99)), "p99-answer-ms")
}

// naiveBatcher is the pattern the Batcher replaces, written plainly: one
// goroutine reads a channel into a buffer and makes the bulk call when the
// buffer is full or a ticker fires; each item carries its own reply
// channel. It has none of the Batcher's guarantees (no per-caller ctx, no
// bound but the channel, the batch wait is a tick, not an item's age).
type naiveBatcher[In, Out any] struct {
	in   chan naiveReq[In, Out]
	done sync.WaitGroup
}

type naiveReq[In, Out any] struct {
	item  In
	reply naiveReply[Out]
}

type naiveReply[Out any] chan naiveResult[Out]

type naiveResult[Out any] struct {
	v   Out
	err error
}

func newNaiveBatcher[In, Out any](fn crew.BatchFunc[In, Out], size int, wait time.Duration) *naiveBatcher[In, Out] {
	nb := &naiveBatcher[In, Out]{in: make(chan naiveReq[In, Out], size)}
	nb.done.Go(func() {
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

func (nb *naiveBatcher[In, Out]) submit(item In) naiveReply[Out] {
	reply := make(naiveReply[Out], 1)
	nb.in <- naiveReq[In, Out]{item: item, reply: reply}
	return reply
}

func (nb *naiveBatcher[In, Out]) close() {
	close(nb.in)
	nb.done.Wait()
}
