// Command ratelimit shows crew's RateLimiter guarding a pool: at most 20
// calls a second to a "payment API", with a burst of 5 (by default). It
// shows that the limit bounds when jobs start, that a caller whose deadline
// cannot be met is turned away at Submit at once (with the time to wait
// before retrying), and that the limit can change while the pool runs.
//
//	go run ./examples/ratelimit
//	go run ./examples/ratelimit -limit 50 -burst 10
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/crew-go/crew"
	"golang.org/x/time/rate"
)

// config is what the flags set.
type config struct {
	limit   float64
	burst   int
	charges int
}

// flags registers the flags on fs, with their defaults and the usage.
func (c *config) flags(fs *flag.FlagSet) {
	fs.Float64Var(&c.limit, "limit", 20, "charges started per second")
	fs.IntVar(&c.burst, "burst", 5, "charges that may start at once")
	fs.IntVar(&c.charges, "charges", 15, "charges submitted at once in the first part")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: go run ./examples/ratelimit [flags]

A RateLimiter bounds when a pool's jobs start; a job whose deadline cannot be
met is refused at Submit at once; the limit changes while the pool runs.

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
		fmt.Fprintln(os.Stderr, "ratelimit:", err)
		os.Exit(1)
	}
}

func run(cfg config, out io.Writer) error {
	if cfg.limit <= 0 || cfg.burst < 1 || cfg.charges < 1 {
		return errors.New("-limit must be above 0, -burst and -charges at least 1")
	}
	limiter := crew.NewRateLimiter(rate.Limit(cfg.limit), cfg.burst)
	pool := crew.Chain(crew.NewPool[string](8), limiter)
	defer pool.Close(context.Background())
	t0 := time.Now()
	since := func() time.Duration { return time.Since(t0) }

	// 1. A burst of charges: burst start at once, the rest one every 1/limit.
	fmt.Fprintf(out, "%d charges submitted at once, limit %g/s, burst %d: %d start at once,\n"+
		"then one every %v.\n", cfg.charges, cfg.limit, cfg.burst, min(cfg.burst, cfg.charges),
		time.Duration(float64(time.Second)/cfg.limit))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var starts []time.Duration
	for i := range cfg.charges {
		f, err := pool.Submit(context.Background(), func(context.Context) (string, error) {
			mu.Lock()
			starts = append(starts, since())
			mu.Unlock()
			return fmt.Sprintf("charge %d ok", i), nil
		})
		if err != nil {
			return fmt.Errorf("submit: %w", err)
		}
		wg.Go(func() { _, _ = f.Wait(context.Background()) })
	}
	wg.Wait()
	fmt.Fprint(out, timeline(starts))

	// 2. A caller that can wait only 100ms while 2s of jobs are in line
	// ahead of it is rejected at once, not after 100ms.
	queued := int(2 * cfg.limit)
	for range queued {
		_, _ = pool.Submit(context.Background(), func(context.Context) (string, error) { return "", nil })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	before := time.Now()
	_, err := pool.Submit(ctx, func(context.Context) (string, error) { return "urgent", nil })
	cancel()
	var re *crew.RejectedError
	if errors.As(err, &re) {
		fmt.Fprintf(out, "\nAn urgent charge with a 100ms deadline, %d charges in line ahead of it:\n", queued)
		fmt.Fprintf(out, "refused by %s (%v) after %v, not after 100ms; retry after %v.\n",
			re.Guard, re.Err, time.Since(before).Round(time.Millisecond),
			re.RetryAfter.Round(10*time.Millisecond))
	} else {
		fmt.Fprintf(out, "\nThe urgent charge was not refused: %v\n", err)
	}

	// 3. The API raises our quota: SetLimit takes effect at once.
	limiter.SetLimit(rate.Limit(10 * cfg.limit))
	begin := time.Now()
	for range 40 {
		_, _ = crew.Do(context.Background(), pool, func(context.Context) (string, error) { return "", nil })
	}
	fmt.Fprintf(out, "\nAfter SetLimit(%g): 40 more charges, one after the other, took %v.\n",
		10*cfg.limit, time.Since(begin).Round(10*time.Millisecond))
	s := pool.Stats()
	fmt.Fprintf(out, "Pool: %d submitted, %d completed, %d refused at Submit.\n",
		s.Submitted, s.Completed, s.Rejected)
	return nil
}

// timeline writes start times as "ms:" lines, at most ten to a line.
func timeline(starts []time.Duration) string {
	var b strings.Builder
	for i, d := range starts {
		if i%10 == 0 {
			if i > 0 {
				b.WriteString("\n")
			}
			b.WriteString("  started at (ms):")
		}
		fmt.Fprintf(&b, " %4d", d.Round(time.Millisecond).Milliseconds())
	}
	b.WriteString("\n")
	return b.String()
}
