// Command compose shows the two guards stacked on one pool, in the
// recommended order: crew.Chain(pool, limiter, breaker). Four clients offer
// about 800 requests a second to a downstream that accepts 100 a second and
// is down from 400ms to 1000ms. The limiter sheds what exceeds the rate at
// Submit (a client can send Retry-After); the breaker sheds everything while
// the downstream is down, probes it, and closes once it is back. A rate limit
// rejection never counts as a failure of the downstream.
//
//	go run ./examples/compose
//	go run ./examples/compose -clients 8 -limit 200
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/crew-go/crew"
)

const (
	runFor = 1400 * time.Millisecond
	slot   = 200 * time.Millisecond
)

type tally struct{ ok, failed, limited, open int }

// config is what the flags set.
type config struct {
	clients int
	limit   float64
}

// flags registers the flags on fs, with their defaults and the usage.
func (c *config) flags(fs *flag.FlagSet) {
	fs.IntVar(&c.clients, "clients", 4, "clients, each sending a request every 5ms")
	fs.Float64Var(&c.limit, "limit", 100, "requests the downstream accepts per second")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: go run ./examples/compose [flags]

Chain(pool, limiter, breaker) in front of a downstream that accepts -limit
requests a second and is down from 400ms to 1000ms.

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
		fmt.Fprintln(os.Stderr, "compose:", err)
		os.Exit(1)
	}
}

func run(cfg config, out io.Writer) error {
	if cfg.clients < 1 || cfg.limit <= 0 {
		return errors.New("-clients must be at least 1 and -limit above 0")
	}
	fmt.Fprintf(out, "%d clients offer %d requests/s to a downstream that accepts %g/s and is down\n"+
		"from 400ms to 1000ms.\n\n", cfg.clients, cfg.clients*200, cfg.limit)
	t0 := time.Now()
	var outMu sync.Mutex
	downstream := func(context.Context) (string, error) {
		time.Sleep(10 * time.Millisecond)
		if d := time.Since(t0); d > 400*time.Millisecond && d < time.Second {
			return "", errors.New("502 bad gateway")
		}
		return "200 OK", nil
	}

	limiter := crew.NewRateLimiter(rate.Limit(cfg.limit), 10, crew.WithMaxWait(50*time.Millisecond))
	breaker := crew.NewBreaker(crew.BreakerConfig{
		FailureThreshold:    5,
		ResetTimeout:        200 * time.Millisecond,
		HalfOpenMaxRequests: 2,
		OnStateChange: func(from, to crew.CircuitState) {
			// Changes on several goroutines reach it at once: one line at a time.
			outMu.Lock()
			defer outMu.Unlock()
			fmt.Fprintf(out, "%7v  breaker %v -> %v\n", time.Since(t0).Round(10*time.Millisecond), from, to)
		},
	})
	pool := crew.Chain(crew.NewPool[string](8), limiter, breaker)

	var mu sync.Mutex
	slots := make([]tally, runFor/slot)
	record := func(err error) {
		i := min(int(time.Since(t0)/slot), len(slots)-1)
		mu.Lock()
		defer mu.Unlock()
		var re *crew.RejectedError
		switch {
		case err == nil:
			slots[i].ok++
		case errors.As(err, &re) && errors.Is(err, crew.ErrRateLimited):
			slots[i].limited++ // an HTTP server would answer 429 with Retry-After: re.RetryAfter
		case errors.As(err, &re) && errors.Is(err, crew.ErrCircuitOpen):
			slots[i].open++ // 503 with Retry-After: re.RetryAfter
		default:
			slots[i].failed++
		}
	}

	var clients sync.WaitGroup
	for range cfg.clients {
		clients.Go(func() {
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			var inflight sync.WaitGroup
			for time.Since(t0) < runFor {
				<-tick.C
				inflight.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
					defer cancel()
					_, err := crew.Do(ctx, pool, downstream)
					record(err)
				})
			}
			inflight.Wait()
		})
	}
	clients.Wait()
	if err := pool.Close(context.Background()); err != nil {
		return err
	}

	fmt.Fprintln(out)
	fmt.Fprintln(out, "requests by outcome, per 200ms:")
	fmt.Fprintln(out, "   from     ok  failed  shed by ratelimit  shed by breaker")
	for i, s := range slots {
		fmt.Fprintf(out, "%4d ms  %5d  %6d  %17d  %15d\n",
			i*int(slot/time.Millisecond), s.ok, s.failed, s.limited, s.open)
	}
	st := pool.Stats()
	fmt.Fprintf(out, "pool: %d submitted, %d completed (%d failed), %d refused at Submit\n",
		st.Submitted, st.Completed, st.Failed, st.Rejected)
	return nil
}
