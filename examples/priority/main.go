// Command priority shows a PriorityPool serving two tiers of requests under
// overload: premium requests keep a short queueing delay while free ones,
// thanks to aging, still get served during the rush instead of after it.
//
// It runs the same load three times, on a plain FIFO pool, on a priority
// pool in strict order (WithAging(0)) and on one with aging, and prints each
// tier's queueing delay.
//
//	go run ./examples/priority
//	go run ./examples/priority -rush 3s -aging 50ms
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/crew-go/crew"
)

const (
	workers = 4
	work    = 2 * time.Millisecond // per request: 4 workers serve 2000 a second
	premium = 3                    // priority of a premium request; free ones have 0
)

// The load, per tick of 1ms: premium requests alone fill the pool (2000 a
// second), and free ones come on top (250 a second).
var tiers = []struct {
	name     string
	priority int
	every    int // ticks between requests
	n        int // requests each time
}{
	{"premium", premium, 1, 2},
	{"free", 0, 4, 1},
}

// config is what the flags set.
type config struct {
	rush  time.Duration
	aging time.Duration
}

// flags registers the flags on fs, with their defaults and the usage.
func (c *config) flags(fs *flag.FlagSet) {
	fs.DurationVar(&c.rush, "rush", 1500*time.Millisecond, "how long the overload lasts")
	fs.DurationVar(&c.aging, "aging", crew.DefaultAgingStep,
		"the third pool's aging step: a queued job gains a level per step waited")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: go run ./examples/priority [flags]

Premium and free requests overload a pool of %d workers; the same load runs on
a FIFO pool, on a strict priority pool and on one with aging, and each
tier's queueing delay is printed.

Flags:
`, workers)
		fs.PrintDefaults()
	}
}

func main() {
	var cfg config
	cfg.flags(flag.CommandLine)
	flag.Parse()
	if err := run(cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "priority:", err)
		os.Exit(1)
	}
}

// run offers the load to each pool in turn and prints what each tier waited.
func run(cfg config, out io.Writer) error {
	if cfg.rush <= 0 || cfg.aging <= 0 {
		return errors.New("-rush and -aging must be above 0")
	}
	fmt.Fprintf(out, "%d workers, %v a request: at most %d requests/s. For %v, premium requests\n"+
		"(priority %d) come at %d/s, and free ones (priority 0) at %d/s on top.\n\n",
		workers, work, int(workers*time.Second/work), cfg.rush, premium,
		tiers[0].n*1000/tiers[0].every, tiers[1].n*1000/tiers[1].every)
	fmt.Fprintf(out, "%-22s %-8s %9s %9s %9s  %s\n",
		"pool", "tier", "p50 wait", "p99 wait", "max wait", "served during the rush")
	opts := []crew.Option{crew.WithQueueSize(1 << 16)}
	pools := []struct {
		name string
		pool crew.Pool[time.Duration]
	}{
		{"NewPool (FIFO)", crew.NewPool[time.Duration](workers, opts...)},
		{"priority, strict", crew.NewPriorityPool[time.Duration](workers, append(opts, crew.WithAging(0))...)},
		{"priority, aging " + cfg.aging.String(),
			crew.NewPriorityPool[time.Duration](workers, append(opts, crew.WithAging(cfg.aging))...)},
	}
	for _, p := range pools {
		if err := offer(out, p.name, p.pool, cfg.rush); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, `
FIFO makes everyone wait alike. Strict priority keeps premium waits short but
serves (almost) no free request until the rush ends: premium work alone fills
the pool. With aging, premium requests still go first, but a free request runs
before any premium request that arrives more than %d levels x %v = %v after
it, so the free tier keeps moving during the rush.
`, premium, cfg.aging, premium*cfg.aging)
	return nil
}

// offer offers the load to p for rush, then prints each tier's queueing
// delay.
func offer(out io.Writer, name string, p crew.Pool[time.Duration], rush time.Duration) error {
	var mu sync.Mutex
	waits := make([][]time.Duration, len(tiers))
	servedInRush := make([]int, len(tiers))
	start := time.Now()
	var futures []*crew.Future[time.Duration]

	tick := time.NewTicker(time.Millisecond)
	for n := 0; time.Since(start) < rush; n++ {
		<-tick.C
		for i, t := range tiers {
			if n%t.every != 0 {
				continue
			}
			ctx := crew.WithPriority(context.Background(), t.priority)
			for range t.n {
				queued := time.Now()
				f, err := p.Submit(ctx, func(context.Context) (time.Duration, error) {
					began := time.Now()
					mu.Lock()
					waits[i] = append(waits[i], began.Sub(queued))
					if began.Sub(start) < rush {
						servedInRush[i]++
					}
					mu.Unlock()
					time.Sleep(work)
					return began.Sub(queued), nil
				})
				if err != nil {
					tick.Stop()
					return fmt.Errorf("submit: %w", err)
				}
				futures = append(futures, f)
			}
		}
	}
	tick.Stop()
	var queue *crew.PriorityStats
	if pp, ok := p.(*crew.PriorityPool[time.Duration]); ok {
		s := pp.QueueStats()
		queue = &s
	}
	if err := p.Close(context.Background()); err != nil { // serves the backlog
		return fmt.Errorf("close: %w", err)
	}
	for _, f := range futures {
		if _, err := f.Wait(context.Background()); err != nil {
			return err
		}
	}
	for i, t := range tiers {
		w := waits[i]
		slices.Sort(w)
		fmt.Fprintf(out, "%-22s %-8s %9s %9s %9s  %5d of %5d (%3.0f%%)\n", name, t.name,
			round(pct(w, 50)), round(pct(w, 99)), round(pct(w, 100)),
			servedInRush[i], len(w), 100*float64(servedInRush[i])/float64(max(len(w), 1)))
		name = ""
	}
	if queue != nil {
		fmt.Fprintf(out, "%-22s queued as the rush ended: %s\n", "", levels(queue))
		if queue.Queued > 0 {
			fmt.Fprintf(out, "%-22s the oldest had waited %s (a %s request)\n", "",
				round(queue.OldestWait), tierName(queue.OldestPriority))
		}
	}
	return nil
}

// levels writes a queue's jobs by tier: "399 (premium 46, free 353)".
func levels(s *crew.PriorityStats) string {
	text := fmt.Sprint(s.Queued)
	sep := " ("
	for _, t := range tiers {
		if n := s.Levels[t.priority]; n > 0 {
			text += fmt.Sprintf("%s%s %d", sep, t.name, n)
			sep = ", "
		}
	}
	if sep == ", " {
		text += ")"
	}
	return text
}

// tierName names the tier of a priority.
func tierName(priority int) string {
	for _, t := range tiers {
		if t.priority == priority {
			return t.name
		}
	}
	return fmt.Sprintf("priority %d", priority)
}

// pct is the p-th percentile of sorted.
func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[(len(sorted)-1)*p/100]
}

// round rounds d to the millisecond, or to the 10ms from a second on.
func round(d time.Duration) string {
	if d >= time.Second {
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
}
