// Command compose shows the two guards stacked on one pool, in the
// recommended order: crew.Chain(pool, limiter, breaker). Four clients offer
// about 800 requests a second to a downstream that accepts 100 a second and
// is down from 400ms to 1000ms. The limiter sheds what exceeds the rate at
// Submit (a client can send Retry-After); the breaker sheds everything while
// the downstream is down, probes it, and closes once it is back. A rate limit
// rejection never counts as a failure of the downstream.
//
//	go run ./examples/compose
package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/crew-go/crew"
)

const (
	runFor = 1400 * time.Millisecond
	slot   = 200 * time.Millisecond
)

type tally struct{ ok, failed, limited, open int }

func main() {
	t0 := time.Now()
	downstream := func(context.Context) (string, error) {
		time.Sleep(10 * time.Millisecond)
		if d := time.Since(t0); d > 400*time.Millisecond && d < time.Second {
			return "", errors.New("502 bad gateway")
		}
		return "200 OK", nil
	}

	limiter := crew.NewRateLimiter(100, 10, crew.WithMaxWait(50*time.Millisecond))
	breaker := crew.NewBreaker(crew.BreakerConfig{
		FailureThreshold:    5,
		ResetTimeout:        200 * time.Millisecond,
		HalfOpenMaxRequests: 2,
		OnStateChange: func(from, to crew.CircuitState) {
			fmt.Printf("%6v  breaker %v -> %v\n", time.Since(t0).Round(10*time.Millisecond), from, to)
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
	for range 4 {
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
	_ = pool.Close(context.Background())

	fmt.Println()
	fmt.Println("   time     ok  failed  shed:ratelimit  shed:breaker")
	for i, s := range slots {
		fmt.Printf("%4d ms  %5d  %6d  %14d  %12d\n", i*int(slot/time.Millisecond), s.ok, s.failed, s.limited, s.open)
	}
	st := pool.Stats()
	fmt.Printf("pool: %d submitted, %d completed (%d failed), %d rejected at Submit\n",
		st.Submitted, st.Completed, st.Failed, st.Rejected)
}
