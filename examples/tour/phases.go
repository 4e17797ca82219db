package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crew-go/crew"
)

// phasePool: a fixed pool bounds the calls in flight to the downstream's
// capacity, so latency stays at its no-load value.
func phasePool(t *tour) []*report {
	t.printf("  8 workers, 16 callers; the downstream takes 8 calls at once (2ms each)\n")
	d := newDownstream(8, 2*time.Millisecond)
	p := crew.NewPool[int](8)
	r := newReport("pool")
	st := t.watch(t.dur(2), r)
	drive(t.dur(2), call(p, d.call), class{report: r, callers: 16})
	st.end()
	closePool(t, p)
	t.show("", r)
	t.printf("  the downstream never saw more than %d calls at once; the rest queued in the pool\n",
		d.peak.Load())
	return []*report{r}
}

// phasePriority: premium callers (priority 10) and free ones (0) share an
// overloaded priority pool; premium waits little, free waits its turn, and
// aging bounds how long.
func phasePriority(t *tour) []*report {
	t.printf("  4 workers; 8 premium callers (priority 10) and 24 free ones, 2ms a call\n")
	d := newDownstream(4, 2*time.Millisecond)
	p := crew.NewPriorityPool[int](4)
	premium, free := newReport("priority: premium"), newReport("priority: free")
	st := t.watch(t.dur(2), premium, free)
	drive(t.dur(2), call(p, d.call),
		class{report: premium, callers: 8, ctx: crew.WithPriority(context.Background(), 10)},
		class{report: free, callers: 24})
	st.end()
	closePool(t, p)
	t.show("premium:", premium)
	t.show("free:   ", free)
	t.printf("  aging: a free job gains a level every %v, so it waits behind premium ones\n"+
		"  for at most 10 levels x %v\n", crew.DefaultAgingStep, crew.DefaultAgingStep)
	return []*report{premium, free}
}

// phaseAdaptive: the worker count follows a load step (2, then 24, then 2
// callers) and falls back after the idle timeout.
func phaseAdaptive(t *tour) []*report {
	idle := t.dur(0.3)
	t.printf("  1 to 32 workers, idle timeout %s; 2 callers, then 24, then 2 (4ms a call)\n",
		round(idle))
	d := newDownstream(32, 4*time.Millisecond)
	p := crew.NewAdaptivePool[int](1, 32, crew.WithIdleTimeout(idle))
	step := t.dur(1)
	r := newReport("adaptive")
	st := t.watch(4*step, r)
	workers := sample(4*step/marks, func() int { return p.Stats().Workers })
	drive(step, call(p, d.call), class{report: r, callers: 2})
	drive(step, call(p, d.call), class{report: r, callers: 24})
	drive(2*step, call(p, d.call), class{report: r, callers: 2})
	w := workers()
	st.end()
	closePool(t, p)
	t.show("", r)
	t.chart("workers", w, 4*step/marks, 32, "workers", "callers",
		label{0, "2"}, label{step, "24"}, label{2 * step, "2"})
	t.printf("  at most %d workers; back to %d after the load step\n", slices.Max(w), w[len(w)-1])
	return []*report{r}
}

// phaseRateLimit: 32 callers against a limit of 500 starts a second; what
// cannot start within 20ms is refused at Submit with a Retry-After.
func phaseRateLimit(t *tour) []*report {
	t.printf("  16 workers, 32 callers; at most 500 starts/s (burst 10); a job that cannot\n" +
		"  start within 20ms is refused at Submit, and its caller waits its Retry-After\n")
	d := newDownstream(64, time.Millisecond)
	limiter := crew.NewRateLimiter(500, 10, crew.WithMaxWait(20*time.Millisecond))
	p := crew.Chain(crew.NewPool[int](16), limiter)
	r := newReport("ratelimit")
	st := t.watch(t.dur(2), r)
	drive(t.dur(2), call(p, d.call), class{report: r, callers: 32})
	st.end()
	closePool(t, p)
	t.show("", r)
	t.printf("  the downstream got %.0f calls/s: the limit, plus the burst at the start\n",
		float64(d.calls.Load())/r.elapsed.Seconds())
	return []*report{r}
}

// phaseBreaker: the downstream fails for a while; the breaker opens, sheds
// the load, probes, and closes once the downstream is back.
func phaseBreaker(t *tour) []*report {
	length := t.dur(2)
	reset := t.dur(0.2)
	t.printf("  8 workers, 8 callers; the downstream fails from %s to %s; the breaker opens\n"+
		"  after 5 failures in a row and probes every %s\n",
		round(length/4), round(3*length/4), round(reset))
	d := newDownstream(16, 2*time.Millisecond)
	var mu sync.Mutex
	var changes []string
	b := crew.NewBreaker(crew.BreakerConfig{
		FailureThreshold: 5,
		ResetTimeout:     reset,
		OnStateChange: func(from, to crew.CircuitState) {
			mu.Lock()
			changes = append(changes, to.String())
			mu.Unlock()
		},
	})
	p := crew.Chain(crew.NewPool[int](8), b)
	stop := outage(&d.failing, length/4, length/2)
	r := newReport("breaker")
	st := t.watch(length, r)
	st.extra = func() string { return "circuit " + b.State().String() }
	drive(length, call(p, d.call), class{report: r, callers: 8})
	st.end()
	stop()
	closePool(t, p)
	t.show("", r)
	mu.Lock()
	t.printf("  circuit: %s\n", transitions(changes))
	mu.Unlock()
	return []*report{r}
}

// phaseBatcher: 64 callers each insert one row at a time; the batcher
// turns them into bulk inserts of up to 100 rows on one connection (one
// batch at a time), each costing 2ms plus 10µs a row, and every caller gets
// its own row's answer.
func phaseBatcher(t *tour) []*report {
	t.printf("  64 callers insert a row each at a time; batches of up to 100 rows, one at a time,\n" +
		"  each costing 2ms + 10µs a row (row by row, one connection: at most 500 rows/s)\n")
	var calls atomic.Int64
	insert := func(ctx context.Context, rows []int) ([]int, error) {
		calls.Add(1)
		timer := time.NewTimer(2*time.Millisecond + time.Duration(len(rows))*10*time.Microsecond)
		defer timer.Stop()
		select {
		case <-timer.C:
			return rows, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	b := crew.NewBatcher(insert, crew.WithBatchSize(100), crew.WithBatchWait(2*time.Millisecond))
	r := newReport("batcher")
	st := t.watch(t.dur(2), r)
	drive(t.dur(2), func(ctx context.Context) error {
		_, err := b.Do(ctx, 1)
		return err
	}, class{report: r, callers: 64})
	st.end()
	closePool(t, b)
	t.show("", r)
	bs := b.BatchStats()
	t.printf("  %d bulk calls of %.0f rows on average: %.0f rows/s\n", calls.Load(),
		float64(bs.Items)/float64(max(bs.Batches, 1)), float64(bs.Items)/r.elapsed.Seconds())
	return []*report{r}
}

// phaseChain: the patterns stacked: an adaptive pool behind a rate limiter
// and a breaker, against a downstream that fails for a while.
func phaseChain(t *tour) []*report {
	length := t.dur(2)
	t.printf("  Chain(adaptive pool of 0 to 16, limiter 2000/s, breaker), 32 callers;\n"+
		"  the downstream fails from %s to %s\n", round(3*length/10), round(8*length/10))
	d := newDownstream(8, 2*time.Millisecond)
	limiter := crew.NewRateLimiter(2000, 20, crew.WithMaxWait(10*time.Millisecond))
	b := crew.NewBreaker(crew.BreakerConfig{FailureThreshold: 5, ResetTimeout: t.dur(0.2)})
	pool := crew.NewAdaptivePool[int](0, 16, crew.WithIdleTimeout(t.dur(0.3)))
	p := crew.Chain(pool, limiter, b)
	stop := outage(&d.failing, 3*length/10, length/2)
	r := newReport("chain")
	st := t.watch(length, r)
	st.extra = func() string { return "circuit " + b.State().String() }
	workers := sample(length/marks, func() int { return pool.Stats().Workers })
	drive(length, call(p, d.call), class{report: r, callers: 32})
	w := workers()
	st.end()
	stop()
	closePool(t, p)
	t.show("", r)
	t.chart("workers", w, length/marks, 16, "workers", "downstream",
		label{0, "ok"}, label{3 * length / 10, "failing"}, label{8 * length / 10, "ok"})
	t.printf("  while the circuit is open, jobs are refused at Submit and the idle workers retire\n")
	return []*report{r}
}

// transitions writes a breaker's state changes, folding repeated failed
// probe rounds: closed→open→(half-open→open)×3→half-open→closed.
func transitions(changes []string) string {
	out := []string{"closed"}
	for i := 0; i < len(changes); {
		n := 0
		for i+1 < len(changes) && changes[i] == "half-open" && changes[i+1] == "open" {
			n++
			i += 2
		}
		switch {
		case n > 1:
			out = append(out, fmt.Sprintf("(half-open→open)×%d", n))
		case n == 1:
			out = append(out, "half-open", "open")
		default:
			out = append(out, changes[i])
			i++
		}
	}
	s := strings.Join(out, "→")
	if len([]rune(s)) > 80 { // a flapping circuit: its ends and how many changes
		s = fmt.Sprintf("closed→%s→…→%s (%d changes)", changes[0], changes[len(changes)-1], len(changes))
	}
	return s
}
