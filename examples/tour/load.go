package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crew-go/crew"
)

// tour is one run of the tour: where it writes and how long its phases are.
type tour struct {
	out   io.Writer
	scale float64 // phase length as a share of the full tour
	live  bool    // out is a terminal: the status line is redrawn in place
}

// dur is s seconds of the full tour, scaled.
func (t *tour) dur(s float64) time.Duration {
	return time.Duration(s * t.scale * float64(time.Second))
}

func (t *tour) printf(format string, args ...any) {
	fmt.Fprintf(t.out, format, args...)
}

// report is what one class of callers saw in one phase: a row of the
// summary.
type report struct {
	name    string
	mu      sync.Mutex
	jobs    int
	ok      int
	failed  int
	refused map[string]int // by guard
	lat     []time.Duration
	elapsed time.Duration // set when the phase ends
}

func newReport(name string) *report {
	return &report{name: name, refused: map[string]int{}}
}

// record counts one call's outcome; lat is its latency.
func (r *report) record(err error, lat time.Duration) {
	var rej *crew.RejectedError
	r.mu.Lock()
	defer r.mu.Unlock()
	r.jobs++
	switch {
	case err == nil:
		r.ok++
		r.lat = append(r.lat, lat)
	case errors.As(err, &rej):
		r.refused[rej.Guard]++
	default:
		r.failed++
	}
}

// figures is a copy of r's counts, safe to read while callers record.
type figures struct {
	jobs, ok, failed, refused int
	lat                       []time.Duration // sorted
}

func (r *report) figures() figures {
	r.mu.Lock()
	f := figures{jobs: r.jobs, ok: r.ok, failed: r.failed, lat: slices.Clone(r.lat)}
	for _, n := range r.refused {
		f.refused += n
	}
	r.mu.Unlock()
	slices.Sort(f.lat)
	return f
}

// pct is the p-th percentile of the sorted latencies, for display.
func (f figures) pct(p int) string {
	if len(f.lat) == 0 {
		return "-"
	}
	return round(f.lat[(len(f.lat)-1)*p/100])
}

// round rounds d for display: three significant digits or so.
func round(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	default:
		return d.Round(10 * time.Microsecond).String()
	}
}

// class is a group of callers of drive.
type class struct {
	report  *report
	callers int
	ctx     context.Context // nil: context.Background()
}

// drive runs each class's callers for d: each calls do in a loop and
// records the outcome in its class's report. A refused caller backs off as
// the refusal says (its Retry-After), or a millisecond, before calling
// again.
func drive(d time.Duration, do func(context.Context) error, classes ...class) {
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for _, c := range classes {
		ctx := c.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		for range c.callers {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					t0 := time.Now()
					err := do(ctx)
					c.report.record(err, time.Since(t0))
					if err != nil {
						time.Sleep(max(retryAfter(err), time.Millisecond))
					}
				}
			})
		}
	}
	wg.Wait()
}

// call is do for a pool: Submit and wait.
func call(p crew.Pool[int], job crew.Job[int]) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := crew.Do(ctx, p, job)
		return err
	}
}

// retryAfter is the delay a refusal asks for; 0 if none.
func retryAfter(err error) time.Duration {
	var rej *crew.RejectedError
	if errors.As(err, &rej) {
		return rej.RetryAfter
	}
	return 0
}

// closePool closes p, giving up after 5 seconds.
func closePool(t *tour, p interface{ Close(context.Context) error }) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.printf("  close: %v\n", err)
	}
}

// downstream simulates a dependency that answers in base time up to
// capacity calls at once, and slows down in proportion beyond it. While
// failing it fails every call at once; while hanging it answers no call
// until the caller's ctx ends.
type downstream struct {
	capacity int64
	base     time.Duration
	inflight atomic.Int64
	peak     atomic.Int64 // the most calls in flight at once
	calls    atomic.Int64
	failing  atomic.Bool
	hanging  atomic.Bool
}

func newDownstream(capacity int, base time.Duration) *downstream {
	return &downstream{capacity: int64(capacity), base: base}
}

var errDownstream = errors.New("downstream failed")

func (d *downstream) call(ctx context.Context) (int, error) {
	d.calls.Add(1)
	n := d.inflight.Add(1)
	defer d.inflight.Add(-1)
	for p := d.peak.Load(); n > p && !d.peak.CompareAndSwap(p, n); p = d.peak.Load() {
	}
	if d.failing.Load() {
		return 0, errDownstream
	}
	if d.hanging.Load() {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	lat := d.base
	if n > d.capacity {
		lat = d.base * time.Duration(n) / time.Duration(d.capacity)
	}
	timer := time.NewTimer(lat)
	defer timer.Stop()
	select {
	case <-timer.C:
		return int(n), nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// outage sets flag from after until after+span, in the background; stop
// cancels what has not happened yet and clears flag.
func outage(flag *atomic.Bool, after, span time.Duration) (stop func()) {
	t1 := time.AfterFunc(after, func() { flag.Store(true) })
	t2 := time.AfterFunc(after+span, func() { flag.Store(false) })
	return func() {
		t1.Stop()
		t2.Stop()
		flag.Store(false)
	}
}

// sample records f every period until the returned func is called, which
// returns the samples.
func sample(period time.Duration, f func() int) func() []int {
	var mu sync.Mutex
	var got []int
	stop := every(period, func() {
		mu.Lock()
		got = append(got, f())
		mu.Unlock()
	})
	return func() []int {
		stop()
		mu.Lock()
		defer mu.Unlock()
		return got
	}
}

// every calls f every period until the returned stop is called.
func every(period time.Duration, f func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				f()
			case <-done:
				return
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
