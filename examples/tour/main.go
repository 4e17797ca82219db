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
		scale = 0.15
	}
	fmt.Println("crew tour: each pattern against a simulated downstream")
	fmt.Println()
	live := isTerminal(os.Stdout)
	var rows []*report
	for _, s := range sections {
		r := s.run(scale, progress(live, s.name))
		rows = append(rows, r)
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
	run  func(scale float64, tick func(done, total int)) *report
}

var sections = []section{
	{"pool", tourPool},
}

// tourPool: a fixed pool bounds the calls in flight to the downstream's
// capacity, so latency stays at its no-load value.
func tourPool(scale float64, tick func(done, total int)) *report {
	d := newDownstream(8, 2*time.Millisecond)
	p := crew.NewPool[int](8)
	r := load(p, int(4000*scale), 0, d.call, tick)
	close1(p)
	r.pattern = "pool"
	r.notes = "8 workers, FIFO; downstream capacity 8"
	return r
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

// load submits jobs to p from 16 goroutines, pacing them every gap (0: as
// fast as Submit takes them), and measures each job's latency from Submit to
// outcome.
func load(p crew.Pool[int], jobs int, gap time.Duration, call crew.Job[int], tick func(done, total int)) *report {
	r := &report{jobs: jobs, rejected: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var next, done atomic.Int64
	start := time.Now()
	stopTick := ticker(func() { tick(int(done.Load()), jobs) })
	for range 16 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(jobs) {
					return
				}
				if gap > 0 {
					time.Sleep(time.Until(start.Add(time.Duration(i) * gap)))
				}
				t0 := time.Now()
				_, err := crew.Do(context.Background(), p, call)
				lat := time.Since(t0)
				done.Add(1)
				mu.Lock()
				var rej *crew.RejectedError
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
			}
		})
	}
	wg.Wait()
	stopTick()
	r.elapsed = time.Since(start)
	return r
}

func close1(p interface{ Close(context.Context) error }) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "close:", err)
	}
}

func printTable(rows []*report) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "pattern\tjobs\tok\tfailed\trejected\tthroughput\tp50\tp99\t\tnotes")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%.0f/s\t%s\t%s\t\t%s\n",
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
		fmt.Printf("\r\033[K%-10s %6d/%d", name, done, total)
	}
}

// ticker calls f every 100 ms until the returned stop is called.
func ticker(f func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
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
