// Command tour runs each crew pattern against an in-process simulated
// downstream and prints what it did: throughput, latency, rejections and the
// worker count over time.
//
//	go run ./examples/tour          # about 15 s
//	go run ./examples/tour -quick   # under 3 s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/crew-go/crew"
)

func main() {
	quick := flag.Bool("quick", false, "run a short version (under 3 s)")
	flag.Parse()
	scale := 1.0
	if *quick {
		scale = 0.1
	}
	fmt.Println("crew tour: each pattern against a simulated downstream")
	fmt.Println()
	live := isTerminal(os.Stdout)
	var rows []*report
	for _, s := range sections {
		rows = append(rows, s.run(scale, progress(live, s.name))...)
		if live {
			fmt.Print("\r\033[K")
		} else {
			fmt.Printf("done: %s\n", s.name)
		}
	}
	fmt.Println()
	printTable(rows)
}

// section is one pattern of the tour.
type section struct {
	name string
	run  func(scale float64, tick func(done, total int)) []*report
}

var sections = []section{
	{"pool", tourPool},
	{"priority", tourPriority},
	{"adaptive", tourAdaptive},
	{"ratelimit", tourRateLimit},
	{"breaker", tourBreaker},
	{"batcher", tourBatcher},
	{"chain", tourChain},
}

// tourPool: a fixed pool bounds the calls in flight to the downstream's
// capacity, so latency stays at its no-load value.
func tourPool(scale float64, tick func(done, total int)) []*report {
	d := newDownstream(8, 2*time.Millisecond)
	p := crew.NewPool[int](8)
	r := load(p, 16, seconds(2, scale), d.call, nil, tick)
	close1(p)
	r.pattern = "pool"
	r.notes = "8 workers for a downstream of capacity 8, 16 callers"
	return []*report{r}
}

// tourPriority: premium callers (priority 10) and free ones (0) share an
// overloaded priority pool; premium waits little, free waits its turn, and
// aging bounds how long.
func tourPriority(scale float64, tick func(done, total int)) []*report {
	d := newDownstream(4, 2*time.Millisecond)
	p := crew.NewPriorityPool[int](4)
	premium := func(ctx context.Context) context.Context { return crew.WithPriority(ctx, 10) }
	rs := loadMixed(p, []loadClass{{"priority: premium", 8, premium}, {"priority: free", 24, nil}}, seconds(2, scale), d.call, tick)
	close1(p)
	qs := p.QueueStats()
	rs[0].notes = "4 workers, 8 premium + 24 free callers"
	rs[1].notes = fmt.Sprintf("aging: waits at most 10 levels x %v behind premium; %d left queued", crew.DefaultAgingStep, qs.Queued)
	return rs
}

// tourAdaptive: the worker count follows a load step (2, then 24, then 2
// callers) and falls back after the idle timeout.
func tourAdaptive(scale float64, tick func(done, total int)) []*report {
	d := newDownstream(32, 4*time.Millisecond)
	p := crew.NewAdaptivePool[int](1, 32, crew.WithIdleTimeout(seconds(0.3, scale)))
	spark := sample(seconds(0.05, scale), func() int { return p.Stats().Workers })
	step := seconds(1, scale)
	r := load(p, 2, step, d.call, nil, tick)
	r.merge(load(p, 24, step, d.call, nil, tick))
	r.merge(load(p, 2, 2*step, d.call, nil, tick))
	workers := spark()
	close1(p)
	r.pattern = "adaptive"
	r.notes = "workers " + sparkline(workers, 32) + fmt.Sprintf(" (max %d)", slices.Max(workers))
	return []*report{r}
}

// tourRateLimit: 32 callers against a limit of 500 starts a second; what
// cannot start within 20 ms is refused at Submit with a Retry-After.
func tourRateLimit(scale float64, tick func(done, total int)) []*report {
	d := newDownstream(64, time.Millisecond)
	limiter := crew.NewRateLimiter(500, 10, crew.WithMaxWait(20*time.Millisecond))
	p := crew.Chain(crew.NewPool[int](16), limiter)
	r := load(p, 32, seconds(2, scale), d.call, nil, tick)
	close1(p)
	r.pattern = "ratelimit"
	r.notes = "500 starts/s, burst 10, max wait 20ms"
	return []*report{r}
}

// tourBreaker: the downstream fails for a while; the breaker opens, sheds
// the load, probes, and closes once the downstream is back.
func tourBreaker(scale float64, tick func(done, total int)) []*report {
	d := newDownstream(16, 2*time.Millisecond)
	var mu sync.Mutex
	var changes []string
	b := crew.NewBreaker(crew.BreakerConfig{
		FailureThreshold: 5,
		ResetTimeout:     seconds(0.2, scale),
		OnStateChange: func(from, to crew.CircuitState) {
			mu.Lock()
			changes = append(changes, to.String())
			mu.Unlock()
		},
	})
	p := crew.Chain(crew.NewPool[int](8), b)
	total := seconds(2, scale)
	stopFlaky := flaky(d, total/4, total/2) // fails from 1/4 to 3/4 of the run
	r := load(p, 8, total, d.call, nil, tick)
	stopFlaky()
	close1(p)
	r.pattern = "breaker"
	mu.Lock()
	r.notes = transitions(changes)
	mu.Unlock()
	return []*report{r}
}

// tourBatcher: 64 callers each insert one row; the batcher turns them into
// bulk inserts of up to 100 rows on one connection (one batch at a time),
// each costing 2 ms plus 10 µs a row, and every caller gets its own row's
// answer.
func tourBatcher(scale float64, tick func(done, total int)) []*report {
	var calls atomic.Int64
	insert := func(ctx context.Context, rows []int) ([]int, error) {
		calls.Add(1)
		select {
		case <-time.After(2*time.Millisecond + time.Duration(len(rows))*10*time.Microsecond):
			return rows, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	b := crew.NewBatcher(insert, crew.WithBatchSize(100), crew.WithBatchWait(2*time.Millisecond))
	r := loadFunc([]loadClass{{"batcher", 64, nil}}, seconds(2, scale), func(ctx context.Context) error {
		f, err := b.Submit(ctx, 1)
		if err != nil {
			return err
		}
		_, err = f.Wait(ctx)
		return err
	}, tick)[0]
	close1(b)
	st := b.BatchStats()
	r.notes = fmt.Sprintf("%d bulk calls, %.0f rows each; row by row on one connection: at most %.0f rows/s",
		calls.Load(), float64(st.Items)/float64(max(st.Batches, 1)), 1/0.00201)
	return []*report{r}
}

// tourChain: the patterns stacked: an adaptive pool behind a rate limiter
// and a breaker, against a downstream that fails for a while.
func tourChain(scale float64, tick func(done, total int)) []*report {
	d := newDownstream(8, 2*time.Millisecond)
	limiter := crew.NewRateLimiter(2000, 20, crew.WithMaxWait(10*time.Millisecond))
	b := crew.NewBreaker(crew.BreakerConfig{FailureThreshold: 5, ResetTimeout: seconds(0.2, scale)})
	pool := crew.NewAdaptivePool[int](0, 16, crew.WithIdleTimeout(seconds(0.3, scale)))
	p := crew.Chain(pool, limiter, b)
	total := seconds(2, scale)
	stopFlaky := flaky(d, total/3, total/2)
	spark := sample(seconds(0.05, scale), func() int { return pool.Stats().Workers })
	r := load(p, 32, total, d.call, nil, tick)
	stopFlaky()
	workers := spark()
	close1(p)
	r.pattern = "chain"
	r.notes = "Chain(adaptive 0..16, limiter 2000/s, breaker) workers " + sparkline(workers, 16)
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
	return strings.Join(out, "→")
}

// seconds scales a duration of the full tour.
func seconds(s, scale float64) time.Duration {
	return time.Duration(s * scale * float64(time.Second))
}

// flaky makes d fail from after until after+span, in the background.
func flaky(d *downstream, after, span time.Duration) (stop func()) {
	t1 := time.AfterFunc(after, func() { d.failing.Store(true) })
	t2 := time.AfterFunc(after+span, func() { d.failing.Store(false) })
	return func() {
		t1.Stop()
		t2.Stop()
		d.failing.Store(false)
	}
}

// sample records f every period until the returned func is called, which
// returns the samples.
func sample(period time.Duration, f func() int) func() []int {
	var mu sync.Mutex
	var got []int
	stop := ticker(period, func() {
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

// sparkline draws values from 0 to top as a line of block characters,
// at most 40 wide.
func sparkline(values []int, top int) string {
	const bars = "▁▂▃▄▅▆▇█"
	runes := []rune(bars)
	if len(values) > 40 { // keep the peaks when shrinking
		w := make([]int, 40)
		for i, v := range values {
			j := i * 40 / len(values)
			w[j] = max(w[j], v)
		}
		values = w
	}
	var sb strings.Builder
	for _, v := range values {
		i := v * (len(runes) - 1) / max(top, 1)
		sb.WriteRune(runes[min(max(i, 0), len(runes)-1)])
	}
	return sb.String()
}

// downstream simulates a dependency that answers in base time up to capacity
// calls at once, and slows down in proportion beyond it.
type downstream struct {
	capacity int64
	base     time.Duration
	inflight atomic.Int64
	failing  atomic.Bool
}

func newDownstream(capacity int, base time.Duration) *downstream {
	return &downstream{capacity: int64(capacity), base: base}
}

var errDownstream = errors.New("downstream failed")

func (d *downstream) call(ctx context.Context) (int, error) {
	n := d.inflight.Add(1)
	defer d.inflight.Add(-1)
	if d.failing.Load() {
		return 0, errDownstream
	}
	lat := d.base
	if n > d.capacity {
		lat = d.base * time.Duration(n) / time.Duration(d.capacity)
	}
	select {
	case <-time.After(lat):
		return int(n), nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// report is one row of the final table.
type report struct {
	pattern  string
	jobs     int
	ok       int
	failed   int
	rejected map[string]int
	elapsed  time.Duration
	lat      []time.Duration
	notes    string
}

// loadClass is one group of callers of loadMixed.
type loadClass struct {
	name    string
	callers int
	ctx     func(context.Context) context.Context // nil: context.Background()
}

// load runs callers goroutines that each call p in a loop (Submit and wait)
// for d, and measures each call's latency from Submit to outcome.
func load(p crew.Pool[int], callers int, d time.Duration, call crew.Job[int], ctx func(context.Context) context.Context, tick func(done, total int)) *report {
	return loadMixed(p, []loadClass{{"", callers, ctx}}, d, call, tick)[0]
}

// loadMixed is load with several classes of callers at once, one report each.
func loadMixed(p crew.Pool[int], classes []loadClass, d time.Duration, call crew.Job[int], tick func(done, total int)) []*report {
	return loadFunc(classes, d, func(ctx context.Context) error {
		_, err := crew.Do(ctx, p, call)
		return err
	}, tick)
}

// loadFunc runs each class's callers in a loop of do for d.
func loadFunc(classes []loadClass, d time.Duration, do func(context.Context) error, tick func(done, total int)) []*report {
	var wg sync.WaitGroup
	var calls atomic.Int64
	start := time.Now()
	deadline := start.Add(d)
	stopTick := ticker(100*time.Millisecond, func() {
		tick(int(time.Since(start)*100/d), 100)
	})
	var reports []*report
	for _, c := range classes {
		r := &report{pattern: c.name, rejected: map[string]int{}}
		reports = append(reports, r)
		var mu sync.Mutex
		for range c.callers {
			wg.Go(func() {
				ctx := context.Background()
				if c.ctx != nil {
					ctx = c.ctx(ctx)
				}
				for time.Now().Before(deadline) {
					t0 := time.Now()
					err := do(ctx)
					lat := time.Since(t0)
					calls.Add(1)
					var rej *crew.RejectedError
					mu.Lock()
					r.jobs++
					switch {
					case err == nil:
						r.ok++
						r.lat = append(r.lat, lat)
					case errors.As(err, &rej):
						r.rejected[rej.Guard]++
					default:
						r.failed++
					}
					mu.Unlock()
					if err != nil { // a refused caller backs off as told, or a little
						time.Sleep(max(retryAfter(err), time.Millisecond))
					}
				}
			})
		}
	}
	wg.Wait()
	stopTick()
	for _, r := range reports {
		r.elapsed = time.Since(start)
	}
	return reports
}

// retryAfter is the delay a refusal asks for; 0 if none.
func retryAfter(err error) time.Duration {
	var rej *crew.RejectedError
	if errors.As(err, &rej) {
		return rej.RetryAfter
	}
	return 0
}

// merge adds o's counts to r.
func (r *report) merge(o *report) {
	r.jobs += o.jobs
	r.ok += o.ok
	r.failed += o.failed
	for k, v := range o.rejected {
		r.rejected[k] += v
	}
	r.elapsed += o.elapsed
	r.lat = append(r.lat, o.lat...)
}

func close1(p interface{ Close(context.Context) error }) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "close:", err)
	}
}

func printTable(rows []*report) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "pattern\tjobs\tok\tfailed\trejected\tthroughput\tp50\tp99\tnotes")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%.0f/s\t%s\t%s\t%s\n",
			r.pattern, r.jobs, r.ok, r.failed, rejections(r.rejected),
			float64(r.ok)/r.elapsed.Seconds(), pct(r.lat, 50), pct(r.lat, 99), r.notes)
	}
	tw.Flush()
}

func rejections(m map[string]int) string {
	if len(m) == 0 {
		return "0"
	}
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s:%d", k, v))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

func pct(lat []time.Duration, p int) string {
	if len(lat) == 0 {
		return "-"
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[(len(s)-1)*p/100].Round(100 * time.Microsecond).String()
}

// progress returns the live status callback of one section.
func progress(live bool, name string) func(done, total int) {
	if !live {
		return func(int, int) {}
	}
	return func(done, total int) {
		fmt.Printf("\r\033[K%-10s %3d%%", name, min(done*100/max(total, 1), 100))
	}
}

// ticker calls f every period until the returned stop is called.
func ticker(period time.Duration, f func()) (stop func()) {
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

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
