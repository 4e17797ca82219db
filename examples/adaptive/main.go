// Command adaptive shows crew's adaptive pool following the load: the worker
// count through a load step (light, heavy, idle), then, with
// WithLimitControl, the concurrency limit following a simulated downstream
// whose capacity changes. It prints each as a text sparkline over time.
//
//	go run ./examples/adaptive
package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crew-go/crew"
)

func main() {
	quick := flag.Bool("quick", false, "shorter phases")
	flag.Parse()
	unit := time.Second
	if *quick {
		unit = 300 * time.Millisecond
	}
	workersFollowLoad(unit)
	fmt.Println()
	limitFollowsDownstream(2 * unit)
}

// workersFollowLoad runs 2 callers, then 24, then none, against a pool of
// 2 to 24 workers that retire after 200ms idle.
func workersFollowLoad(phase time.Duration) {
	const lo, hi = 2, 24
	pool := crew.NewAdaptivePool[int](lo, hi, crew.WithIdleTimeout(200*time.Millisecond))
	defer pool.Close(context.Background())
	job := func(ctx context.Context) (int, error) {
		time.Sleep(5 * time.Millisecond) // a downstream call
		return 0, nil
	}

	var callers atomic.Int32 // how many callers should be running
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range hi {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if int32(i) >= callers.Load() {
					time.Sleep(time.Millisecond)
					continue
				}
				crew.Do(context.Background(), pool, job)
			}
		})
	}

	fmt.Printf("Worker count (min %d, max %d, idle timeout 200ms), one mark per %v:\n", lo, hi, phase/10)
	var marks []int
	for _, step := range []struct {
		name    string
		callers int32
	}{{"light", 2}, {"heavy", hi}, {"idle", 0}} {
		callers.Store(step.callers)
		var line []int
		for range 10 {
			time.Sleep(phase / 10)
			line = append(line, pool.Stats().Workers)
		}
		marks = append(marks, line...)
		fmt.Printf("  %-5s (%2d callers) %s  %v\n", step.name, step.callers, spark(line, hi), line)
	}
	close(stop)
	wg.Wait()
	fmt.Printf("  all               %s\n", spark(marks, hi))
}

// limitFollowsDownstream puts 64 callers in front of a pool of up to 64
// workers with WithLimitControl, calling a downstream that takes 5ms until
// more than C calls overlap and proportionally longer beyond: C = 8, then 16,
// then 4.
func limitFollowsDownstream(phase time.Duration) {
	const hi = 64
	var (
		mu       sync.Mutex
		inside   int
		capacity = 8
	)
	call := func(ctx context.Context) (int, error) {
		mu.Lock()
		inside++
		d := 5 * time.Millisecond * time.Duration(max(inside, capacity)) / time.Duration(capacity)
		mu.Unlock()
		time.Sleep(d)
		mu.Lock()
		inside--
		mu.Unlock()
		return 0, nil
	}
	pool := crew.NewAdaptivePool[int](0, hi, crew.WithLimitControl(crew.LimitConfig{}))
	defer pool.Close(context.Background())

	stop := make(chan struct{})
	var done atomic.Int64
	var wg sync.WaitGroup
	for range hi {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				crew.Do(context.Background(), pool, call)
				done.Add(1)
			}
		})
	}
	fmt.Printf("Concurrency limit (max %d) against a downstream of capacity C, one mark per %v:\n", hi, phase/10)
	for _, c := range []int{8, 16, 4} {
		mu.Lock()
		capacity = c
		mu.Unlock()
		var line []int
		before := done.Load()
		for range 10 {
			time.Sleep(phase / 10)
			line = append(line, pool.Limit())
		}
		rate := float64(done.Load()-before) / phase.Seconds()
		fmt.Printf("  C=%-2d %s  %v  %4.0f calls/s (C allows %4.0f)\n", c, spark(line, 2*c), line, rate, float64(c)/0.005)
	}
	close(stop)
	wg.Wait()
}

// spark draws values from 0 to top as block characters.
func spark(vs []int, top int) string {
	const bars = "▁▂▃▄▅▆▇█"
	levels := []rune(bars)
	var b strings.Builder
	for _, v := range vs {
		i := v * (len(levels) - 1) / max(top, 1)
		b.WriteRune(levels[min(max(i, 0), len(levels)-1)])
	}
	return b.String()
}
