package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crew-go/crew"
)

// phaseRetry: jobs arrive at a steady rate at Retry(Chain(pool, limiter,
// breaker)) while the downstream hangs for a while. Each attempt has its
// own run timeout; the breaker opens and sheds the attempts; Retry waits
// what the breaker's refusal says (its Retry-After), holding no worker, and
// tries again; once the downstream is back, every job finishes.
func phaseRetry(t *tour) []*report {
	const runTimeout = 25 * time.Millisecond
	length := t.dur(2)
	reset := t.dur(0.2)
	jobs := max(int(400*length.Seconds()), 40)
	from, to := length/4, length/4+2*length/5
	t.printf("  %d jobs arrive at 400/s at Retry(Chain(16 workers, limiter 2000/s, breaker)), up to\n"+
		"  20 attempts each, each with WithRunTimeout %v; the downstream hangs from %s to %s\n",
		jobs, runTimeout, round(from), round(to))

	d := newDownstream(16, 2*time.Millisecond)
	limiter := crew.NewRateLimiter(2000, 20, crew.WithMaxWait(reset))
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
	retried := map[string]int{} // retries by what failed the attempt before
	var retries, worst atomic.Int64
	p := crew.Retry(crew.Chain(crew.NewPool[int](16), limiter, b), crew.RetryPolicy{
		MaxAttempts: 20,
		BaseDelay:   reset / 4,
		MaxDelay:    reset,
		OnRetry: func(attempt int, err error, _ time.Duration) {
			retries.Add(1)
			for w := worst.Load(); int64(attempt) > w && !worst.CompareAndSwap(w, int64(attempt)); {
				w = worst.Load()
			}
			mu.Lock()
			retried[why(err)]++
			mu.Unlock()
		},
	})

	r := newReport("retry")
	var done, waiting atomic.Int64
	st := t.watchJobs(jobs, func() int { return int(done.Load()) }, r)
	st.extra = func() string { return fmt.Sprintf("%d retries", retries.Load()) }
	stop := outage(&d.hanging, from, to-from)
	period := length * 3 / 2 / marks
	backlog := sample(period, func() int { return int(waiting.Load()) })

	// Every job's ctx gives each of its attempts runTimeout to run.
	g := crew.NewGroup(crew.WithRunTimeout(context.Background(), runTimeout), p)
	tick := time.NewTicker(length / time.Duration(jobs))
	for range jobs {
		<-tick.C
		arrived := time.Now()
		waiting.Add(1)
		err := g.Submit(func(ctx context.Context) (int, error) {
			v, err := d.call(ctx)
			if err == nil { // the job's last attempt: it is done
				r.record(nil, time.Since(arrived))
				done.Add(1)
				waiting.Add(-1)
			}
			return v, err
		})
		if err != nil {
			r.record(err, 0)
		}
	}
	tick.Stop()
	results, _ := g.Wait(context.Background())
	for _, res := range results {
		if res.Err != nil { // out of attempts: counted here, once
			r.record(res.Err, 0)
		}
	}
	st.end()
	stop()
	w := backlog()
	closePool(t, p)

	f := r.figures()
	t.printf("  %d of %d jobs ok, %d failed; %d attempts, at most %d for a job; %d reached the downstream\n",
		f.ok, jobs, f.failed+f.refused, jobs+int(retries.Load()), max(worst.Load(), 1), d.calls.Load())
	mu.Lock()
	t.printf("  retried after: %s\n", reasons(retried))
	t.printf("  circuit: %s\n", transitions(changes))
	mu.Unlock()
	t.printf("  latency from arrival: p50 %s, p99 %s (the jobs caught in the outage waited it out)\n",
		f.pct(50), f.pct(99))
	t.chart("unfinished", w, period, max(slices.Max(w), 1), "jobs", "downstream",
		label{0, "ok"}, label{from, "hanging"}, label{to, "ok"})
	return []*report{r}
}

// why names what failed an attempt: the guard that refused it, a run
// timeout, or the downstream.
func why(err error) string {
	var rej *crew.RejectedError
	switch {
	case errors.As(err, &rej):
		return "refused by " + rej.Guard
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	default:
		return "failed"
	}
}

// reasons lists counts by reason: "refused by breaker 3, timed out 12".
func reasons(m map[string]int) string {
	if len(m) == 0 {
		return "nothing: no attempt failed"
	}
	var parts []string
	for k, n := range m {
		parts = append(parts, fmt.Sprintf("%s %d", k, n))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}
