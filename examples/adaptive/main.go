// Command adaptive shows crew's adaptive pool following the load: the worker
// count through a load step (light, heavy, idle), then, with
// WithLimitControl, the concurrency limit following a simulated downstream
// whose capacity changes. Each is drawn as a text sparkline over time, on
// one scale for the whole run, with the load step written under it.
//
//	go run ./examples/adaptive           # about 9 s
//	go run ./examples/adaptive -quick    # about 3 s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crew-go/crew"
)

// marksPerStep is how many samples (sparkline marks) a load step takes.
const marksPerStep = 10

// config is what the flags set.
type config struct {
	quick bool
	step  time.Duration
}

// flags registers the flags on fs, with their defaults and the usage.
func (c *config) flags(fs *flag.FlagSet) {
	fs.BoolVar(&c.quick, "quick", false, "steps of 300ms instead of -step: about 3 s in all")
	fs.DurationVar(&c.step, "step", time.Second,
		"length of a load step (the second part's steps last twice that)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: go run ./examples/adaptive [flags]

An adaptive pool's worker count follows a load step; then its concurrency
limit (WithLimitControl) follows a downstream whose capacity changes.

Flags:
`)
		fs.PrintDefaults()
	}
}

func main() {
	var cfg config
	cfg.flags(flag.CommandLine)
	flag.Parse()
	if err := run(cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "adaptive:", err)
		os.Exit(1)
	}
}

func run(cfg config, out io.Writer) error {
	step := cfg.step
	if cfg.quick {
		step = 300 * time.Millisecond
	}
	if step < 10*time.Millisecond {
		return errors.New("-step must be 10ms or more")
	}
	workersFollowLoad(out, step)
	fmt.Fprintln(out)
	limitFollowsDownstream(out, 2*step)
	return nil
}

// workersFollowLoad runs 2 callers, then 24, then none, against a pool of
// 2 to 24 workers that retire after 200ms idle.
func workersFollowLoad(out io.Writer, step time.Duration) {
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

	fmt.Fprintf(out, "Worker count of an adaptive pool (%d to %d workers, idle timeout 200ms), 5ms a job:\n",
		lo, hi)
	var marks []int
	var axis []string
	for _, s := range []struct {
		name    string
		callers int32
	}{{"light", 2}, {"heavy", hi}, {"idle", 0}} {
		callers.Store(s.callers)
		line := sampleFor(step, func() int { return pool.Stats().Workers })
		marks = append(marks, line...)
		axis = append(axis, fmt.Sprintf("%d", s.callers))
		fmt.Fprintf(out, "  %-5s %2d callers: workers from %2d to %2d\n",
			s.name, s.callers, line[0], line[len(line)-1])
	}
	close(stop)
	wg.Wait()
	chart(out, "workers", marks, hi, "workers", "callers", axis, step)
}

// limitFollowsDownstream puts 64 callers in front of a pool of up to 64
// workers with WithLimitControl, calling a downstream that takes 5ms until
// more than C calls overlap and proportionally longer beyond: C = 8, then 16,
// then 4.
func limitFollowsDownstream(out io.Writer, step time.Duration) {
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
	fmt.Fprintf(out, "Concurrency limit (WithLimitControl, up to %d) with %d callers, against a downstream\n"+
		"that takes 5ms a call up to C calls at once, and longer beyond:\n", hi, hi)
	var marks []int
	var axis []string
	for _, c := range []int{8, 16, 4} {
		mu.Lock()
		capacity = c
		mu.Unlock()
		before := done.Load()
		line := sampleFor(step, pool.Limit)
		marks = append(marks, line...)
		axis = append(axis, fmt.Sprintf("C=%d", c))
		rate := float64(done.Load()-before) / step.Seconds()
		settled := slices.Clone(line[len(line)/2:])
		slices.Sort(settled)
		fmt.Fprintf(out, "  C=%-2d limit from %2d, settling at %2d; %4.0f calls/s of the %4.0f C allows\n",
			c, line[0], settled[len(settled)/2], rate, float64(c)/0.005)
	}
	close(stop)
	wg.Wait()
	chart(out, "limit", marks, slices.Max(marks), "(the highest seen)", "downstream", axis, step)
}

// sampleFor samples f marksPerStep times over step.
func sampleFor(step time.Duration, f func() int) []int {
	var line []int
	for range marksPerStep {
		time.Sleep(step / marksPerStep)
		line = append(line, f())
	}
	return line
}

// chart draws the marks of every step as one sparkline on one scale, ▁ 0
// to █ top, and under it each step's label where the step starts.
func chart(out io.Writer, name string, marks []int, top int, unit, axis string, steps []string,
	step time.Duration) {
	var labels strings.Builder
	for _, s := range steps {
		fmt.Fprintf(&labels, "%-*s", marksPerStep, s)
	}
	scale := fmt.Sprintf("scale: ▁ 0 to █ %d %s", top, unit)
	fmt.Fprintf(out, "  %-10s %s  %s\n", name, spark(marks, top), strings.TrimSpace(scale))
	fmt.Fprintf(out, "  %-10s %s  time: %v a mark\n", axis, labels.String(), step/marksPerStep)
}

// spark draws values from 0 to top as block characters: ▁ for 0, █ for top.
func spark(vs []int, top int) string {
	levels := []rune("▁▂▃▄▅▆▇█")
	var b strings.Builder
	for _, v := range vs {
		i := (v*(len(levels)-1) + top/2) / max(top, 1)
		b.WriteRune(levels[min(max(i, 0), len(levels)-1)])
	}
	return b.String()
}
