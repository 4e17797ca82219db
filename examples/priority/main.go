// Command priority shows a PriorityPool serving two tiers of requests under
// overload: premium requests keep a short queueing delay while free ones,
// thanks to aging, still get served during the rush instead of after it.
//
// It runs the same load three times, on a plain FIFO pool, on a priority
// pool in strict order (WithAging(0)) and on one with the default aging,
// and prints each tier's queueing delay.
//
//	go run ./examples/priority
package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/crew-go/crew"
)

const (
	workers = 4
	work    = 2 * time.Millisecond // per request: 4 workers serve 2000 a second
	rush    = 1500 * time.Millisecond
	premium = 3 // priority of a premium request; free ones have 0
)

// The load, per tick of 1ms: premium requests alone fill the pool (2000 a
// second), and free ones come on top (250 a second).
var tiers = []struct {
	name  string
	ctx   context.Context
	every int // ticks between requests
	n     int // requests each time
}{
	{"premium", crew.WithPriority(context.Background(), premium), 1, 2},
	{"free", context.Background(), 4, 1},
}

func main() {
	fmt.Printf("%d workers, %v per request: capacity %d/s. For %v, premium requests (priority %d) come at %d/s\nand free ones (priority 0) at %d/s on top.\n\n",
		workers, work, int(workers*time.Second/work), rush, premium,
		tiers[0].n*1000/tiers[0].every, tiers[1].n*1000/tiers[1].every)
	fmt.Printf("%-26s %-7s %9s %9s %9s %16s\n", "pool", "tier", "p50 wait", "p99 wait", "max wait", "served in rush")
	run("NewPool (FIFO)", crew.NewPool[time.Duration](workers, crew.WithQueueSize(1<<16)))
	run("priority, strict", crew.NewPriorityPool[time.Duration](workers, crew.WithQueueSize(1<<16), crew.WithAging(0)))
	run("priority, aging 100ms", crew.NewPriorityPool[time.Duration](workers, crew.WithQueueSize(1<<16)))
	fmt.Printf(`
FIFO makes everyone wait alike. Strict priority keeps premium waits short but
serves (almost) no free request until the rush ends: premium work alone fills
the pool.
With aging (the default), premium requests still go first, but a free request
runs before any premium request that arrives more than %d levels * 100ms = %v
after it, so the free tier keeps moving during the rush.
`, premium, premium*crew.DefaultAgingStep)
}

// run offers the load to p, then prints each tier's queueing delay.
func run(name string, p crew.Pool[time.Duration]) {
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
			for range t.n {
				queued := time.Now()
				f, err := p.Submit(t.ctx, func(context.Context) (time.Duration, error) {
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
					fmt.Println("submit:", err)
					continue
				}
				futures = append(futures, f)
			}
		}
	}
	tick.Stop()
	if pp, ok := p.(*crew.PriorityPool[time.Duration]); ok {
		s := pp.QueueStats()
		defer fmt.Printf("%-26s at the end of the rush: %d queued %v, oldest waiting %v (priority %d)\n",
			"", s.Queued, s.Levels, s.OldestWait.Round(time.Millisecond), s.OldestPriority)
	}
	if err := p.Close(context.Background()); err != nil { // serves the backlog
		fmt.Println("close:", err)
	}
	for _, f := range futures {
		f.Wait(context.Background())
	}
	for i, t := range tiers {
		w := waits[i]
		slices.Sort(w)
		fmt.Printf("%-26s %-7s %9v %9v %9v %9d of %d\n", name, t.name,
			pct(w, 50), pct(w, 99), w[len(w)-1].Round(time.Millisecond), servedInRush[i], len(w))
		name = ""
	}
}

// pct returns the p-th percentile of sorted, rounded to the millisecond.
func pct(sorted []time.Duration, p int) time.Duration {
	return sorted[(len(sorted)-1)*p/100].Round(time.Millisecond)
}
