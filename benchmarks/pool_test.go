package benchmarks

import (
	"runtime"
	"runtime/metrics"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// One b.N iteration is one whole workload: build the pool, submit every
// task, wait until every task has run, close the pool. Only the submitting
// and the waiting are timed (building and closing are not), and ns/task is
// the timed wall time divided by the tasks run, so -benchtime=1x is a
// meaningful smoke run and the default benchtime gives a handful of
// iterations per sub-benchmark.

// workload is one fire-and-forget scenario.
type workload struct {
	tasks      int    // in total, split evenly among the submitters
	submitters int    // goroutines calling Submit
	workers    int    // the pool's size
	work       func() // what one task does besides being counted; nil: nothing
}

// stats collects what a workload run measured, for the custom metrics.
type stats struct {
	mallocs, bytes uint64        // during the timed part
	cpu            time.Duration // process CPU time during the timed part
	peakHeap       uint64        // HeapInuse growth over the start, sampled every millisecond (sampleHeap)
	peakStacks     uint64        // StackInuse growth, likewise
	sampleHeap     bool          // run the sampler
	taskCPU        time.Duration // one task alone, when known (efficiency)
}

// maxWait bounds the wait for a workload's last task: a pool that lost a task
// fails the benchmark instead of hanging it.
const maxWait = 5 * time.Minute

func runWorkload(b *testing.B, l lib, w workload, st *stats) {
	b.ReportAllocs()
	per := w.tasks / w.submitters
	n := int64(per * w.submitters)
	for b.Loop() {
		b.StopTimer()
		var ran atomic.Int64
		done := make(chan struct{})
		task := func() {
			if w.work != nil {
				w.work()
			}
			if ran.Add(1) == n {
				close(done)
			}
		}
		r := l.new(w.workers, task)
		if st.sampleHeap {
			warmGoroutines(w.workers)
		}
		runtime.GC() // leave the last iteration's garbage out of this one
		stopSampler := startSampler(st)
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		var submitErr atomic.Value
		cpu0 := processCPU()
		b.StartTimer()

		if w.submitters == 1 {
			for range per {
				if err := r.Submit(); err != nil {
					submitErr.CompareAndSwap(nil, err)
					break
				}
			}
		} else {
			var wg sync.WaitGroup
			for range w.submitters {
				wg.Go(func() {
					for range per {
						if err := r.Submit(); err != nil {
							submitErr.CompareAndSwap(nil, err)
							return
						}
					}
				})
			}
			wg.Wait()
		}
		if err := submitErr.Load(); err != nil {
			r.Close()
			b.Fatalf("%s: Submit: %v", l.name, err)
		}
		select {
		case <-done:
		case <-time.After(maxWait):
			b.Fatalf("%s: %d of %d tasks ran within %v", l.name, ran.Load(), n, maxWait)
		}

		b.StopTimer()
		st.cpu += processCPU() - cpu0
		runtime.ReadMemStats(&m1)
		stopSampler()
		st.mallocs += m1.Mallocs - m0.Mallocs
		st.bytes += m1.TotalAlloc - m0.TotalAlloc
		if err := r.Close(); err != nil {
			b.Fatalf("%s: Close: %v", l.name, err)
		}
		if got := ran.Load(); got != n {
			b.Fatalf("%s: %d tasks ran, want %d", l.name, got, n)
		}
		b.StartTimer()
	}
	tasks := float64(b.N) * float64(n)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/tasks, "ns/task")
	b.ReportMetric(float64(st.mallocs)/tasks, "allocs/task")
	b.ReportMetric(float64(st.bytes)/tasks, "B/task")
	if st.cpu > 0 {
		b.ReportMetric(float64(st.cpu.Nanoseconds())/tasks, "cpu-ns/task")
	}
	if st.sampleHeap {
		// Decimal megabytes: benchstat reads the MB unit as 1e6 bytes.
		b.ReportMetric(float64(st.peakHeap)/1e6, "peak-heap-MB")
		b.ReportMetric(float64(st.peakStacks)/1e6, "peak-stacks-MB")
	}
	if st.taskCPU > 0 {
		procs := float64(runtime.GOMAXPROCS(0))
		eff := tasks * float64(st.taskCPU) / (float64(b.Elapsed()) * procs)
		b.ReportMetric(eff, "efficiency")
	}
}

// warmGoroutines starts and ends n goroutines at once, so that the
// runtime keeps n goroutine records for reuse: whichever library runs
// first would otherwise pay, in heap, for the records every library after
// it reuses.
func warmGoroutines(n int) {
	var wg sync.WaitGroup
	release := make(chan struct{})
	for range n {
		wg.Go(func() { <-release })
	}
	close(release)
	wg.Wait()
}

// startSampler samples the heap every millisecond into st until the returned
// func is called; it does nothing unless st.sampleHeap. It records the growth
// over the heap at its start (just after a runtime.GC), so what earlier
// benchmarks left in the process does not count.
func startSampler(st *stats) (stop func()) {
	if !st.sampleHeap {
		return func() {}
	}
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"}, // HeapInuse is objects + unused
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/stacks:bytes"}, // StackInuse
	}
	metrics.Read(samples)
	heap0 := samples[0].Value.Uint64() + samples[1].Value.Uint64()
	stacks0 := samples[2].Value.Uint64()
	read := func() {
		metrics.Read(samples)
		heap := samples[0].Value.Uint64() + samples[1].Value.Uint64()
		st.peakHeap = max(st.peakHeap, heap-min(heap, heap0))
		stacks := samples[2].Value.Uint64()
		st.peakStacks = max(st.peakStacks, stacks-min(stacks, stacks0))
	}
	quit, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				read()
			case <-quit:
				read()
				return
			}
		}
	}()
	return func() { close(quit); <-exited }
}

func eachLib(b *testing.B, w workload, st func() *stats) {
	for _, l := range libs {
		b.Run(l.name, func(b *testing.B) {
			s := &stats{}
			if st != nil {
				s = st()
			}
			runWorkload(b, l, w, s)
		})
	}
}

var procs = runtime.GOMAXPROCS(0)

// BenchmarkTiny: 1,000,000 trivial tasks (an atomic add), one submitter,
// GOMAXPROCS workers.
func BenchmarkTiny(b *testing.B) {
	eachLib(b, workload{tasks: 1_000_000, submitters: 1, workers: procs}, nil)
}

// BenchmarkTiny100: as BenchmarkTiny with 100 workers.
func BenchmarkTiny100(b *testing.B) {
	eachLib(b, workload{tasks: 1_000_000, submitters: 1, workers: 100}, nil)
}

// BenchmarkBurst: 8 submitters x 125,000 trivial tasks, GOMAXPROCS workers.
func BenchmarkBurst(b *testing.B) {
	eachLib(b, workload{tasks: 1_000_000, submitters: 8, workers: procs}, nil)
}

// BenchmarkSleep: 100,000 tasks sleeping 10 ms, 10,000 workers; reports the
// peak HeapInuse (and StackInuse) sampled every millisecond, as growth over
// the heap in use when the iteration starts.
func BenchmarkSleep(b *testing.B) {
	eachLib(b, workload{
		tasks: 100_000, submitters: 1, workers: 10_000,
		work: func() { time.Sleep(10 * time.Millisecond) },
	}, func() *stats { return &stats{sampleHeap: true} })
}

// BenchmarkCPU: 10,000 tasks of about 50 us of CPU each (a calibrated busy
// loop), GOMAXPROCS workers; reports efficiency = tasks * one task's time
// alone / (wall * GOMAXPROCS).
func BenchmarkCPU(b *testing.B) {
	iters := spinIters(50 * time.Microsecond)
	eachLib(b, workload{
		tasks: 10_000, submitters: 1, workers: procs,
		work: func() { spin(iters) },
	}, func() *stats { return &stats{taskCPU: spinTime(iters)} })
}

// spinSink keeps the busy loop from being optimized away.
var spinSink atomic.Uint64

// spin burns CPU for n rounds of xorshift.
func spin(n int) {
	x := uint64(n) | 1
	for range n {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	if x == 0 {
		spinSink.Add(1)
	}
}

var spinCal struct {
	once    sync.Once
	perIter float64 // ns
}

// spinIters returns the rounds of spin that take about d on this machine.
func spinIters(d time.Duration) int {
	spinCal.once.Do(func() {
		n := 1 << 16
		for {
			start := time.Now()
			spin(n)
			if el := time.Since(start); el > 20*time.Millisecond {
				spinCal.perIter = float64(el) / float64(n)
				return
			}
			n *= 2
		}
	})
	return max(1, int(float64(d)/spinCal.perIter))
}

// spinTime is the median time of spin(n) run alone, measured now, so that a
// machine's clock drift between sub-benchmarks does not skew efficiency.
func spinTime(n int) time.Duration {
	ts := make([]time.Duration, 101)
	for i := range ts {
		start := time.Now()
		spin(n)
		ts[i] = time.Since(start)
	}
	slices.Sort(ts)
	return ts[len(ts)/2]
}
