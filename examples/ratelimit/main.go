// Command ratelimit shows crew's RateLimiter guarding a pool: at most 20
// calls a second to a "payment API", with a burst of 5. It shows that the
// limit bounds when jobs start, that a caller whose deadline cannot be met
// is turned away at Submit at once (with the time to wait before retrying),
// and that the limit can change while the pool runs.
//
//	go run ./examples/ratelimit
package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/crew-go/crew"
)

func main() {
	limiter := crew.NewRateLimiter(20, 5)
	pool := crew.Chain(crew.NewPool[string](8), limiter)
	defer pool.Close(context.Background())
	t0 := time.Now()
	since := func() time.Duration { return time.Since(t0).Round(10 * time.Millisecond) }

	// 1. A burst of 15 charges: 5 start at once, the rest one every 50ms.
	fmt.Println("15 charges submitted at once, limit 20/s, burst 5:")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var starts []time.Duration
	for i := range 15 {
		f, err := pool.Submit(context.Background(), func(context.Context) (string, error) {
			mu.Lock()
			starts = append(starts, since())
			mu.Unlock()
			return fmt.Sprintf("charge %d ok", i), nil
		})
		if err != nil {
			fmt.Println("submit:", err)
			continue
		}
		wg.Go(func() { _, _ = f.Wait(context.Background()) })
	}
	wg.Wait()
	fmt.Println("  started at:", starts)

	// 2. A caller that can wait only 100ms while 10 jobs are in line ahead
	// of it is rejected at once, not after 100ms.
	for range 10 {
		_, _ = pool.Submit(context.Background(), func(context.Context) (string, error) { return "", nil })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	before := time.Now()
	_, err := pool.Submit(ctx, func(context.Context) (string, error) { return "urgent", nil })
	cancel()
	var re *crew.RejectedError
	if errors.As(err, &re) {
		fmt.Printf("an urgent charge with a 100ms deadline, 10 jobs in line: rejected by %s (%v)\n", re.Guard, re.Err)
		fmt.Printf("  Submit returned after %v; retry after %v\n",
			time.Since(before).Round(time.Millisecond), re.RetryAfter.Round(10*time.Millisecond))
	}

	// 3. The API raises our quota: SetLimit takes effect at once.
	limiter.SetLimit(200)
	begin := time.Now()
	for range 40 {
		_, _ = crew.Do(context.Background(), pool, func(context.Context) (string, error) { return "", nil })
	}
	fmt.Printf("after SetLimit(200): 40 more charges, one after the other, took %v\n",
		time.Since(begin).Round(10*time.Millisecond))
	fmt.Println("stats:", statsLine(pool.Stats()))
}

func statsLine(s crew.Stats) string {
	return fmt.Sprintf("submitted %d, completed %d, rejected %d", s.Submitted, s.Completed, s.Rejected)
}
