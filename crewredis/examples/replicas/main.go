// Command replicas runs four replicas of a service in one process, each
// with its own Redis client, sharing one rate limit (200 calls a second
// over all of them) and one circuit breaker in front of a downstream that
// fails for a while. By default the Redis is miniredis, in process; pass
// -redis host:port for a real one.
//
//	go run ./examples/replicas               (from crewredis/)
//	go run ./examples/replicas -redis 127.0.0.1:6379
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/crew-go/crew"
	"github.com/crew-go/crew/crewredis"
	"github.com/redis/go-redis/v9"
)

func main() {
	addr := flag.String("redis", "", "a Redis server's host:port (default: an in-process miniredis)")
	replicas := flag.Int("replicas", 4, "replicas sharing the limit and the breaker")
	run := flag.Duration("run", 3*time.Second, "how long to run")
	flag.Parse()
	if *addr == "" {
		mr, err := miniredis.Run()
		if err != nil {
			log.Fatal(err)
		}
		defer mr.Close()
		*addr = mr.Addr()
	}
	const limit, burst = 200, 10
	key := fmt.Sprintf("example:limit:%d", time.Now().UnixNano()) // a fresh bucket every run

	// The downstream fails from 1s to 1.5s into the run.
	begin := time.Now()
	failing := func() bool { d := time.Since(begin); return d > time.Second && d < 1500*time.Millisecond }
	var calls atomic.Int64
	downstream := func(context.Context) (struct{}, error) {
		calls.Add(1)
		if failing() {
			return struct{}{}, errors.New("downstream: 503")
		}
		return struct{}{}, nil
	}

	type replica struct {
		pool    crew.Pool[struct{}]
		limiter *crewredis.RateLimiter
		breaker *crewredis.Breaker
		client  *redis.Client
		refused atomic.Int64
	}
	var rs []*replica
	for i := range *replicas {
		c := redis.NewClient(crewredis.ClientOptions(*addr))
		lim := crewredis.NewRateLimiter(c, key, limit, burst, crewredis.WithMaxWait(100*time.Millisecond))
		br := crewredis.NewBreaker(c, fmt.Sprintf("downstream-%d", begin.UnixNano()), crew.BreakerConfig{
			FailureThreshold: 5, ResetTimeout: 300 * time.Millisecond,
			OnStateChange: func(from, to crew.CircuitState) {
				fmt.Printf("%6.2fs replica %d: breaker %v -> %v\n", time.Since(begin).Seconds(), i, from, to)
			},
		})
		rs = append(rs, &replica{pool: crew.Chain(crew.NewPool[struct{}](8), lim, br), limiter: lim, breaker: br, client: c})
	}

	// Each replica gets far more requests than its share of the limit.
	ctx, cancel := context.WithTimeout(context.Background(), *run)
	defer cancel()
	var wg sync.WaitGroup
	for _, r := range rs {
		for range 8 {
			wg.Go(func() {
				for ctx.Err() == nil {
					if _, err := crew.Do(ctx, r.pool, downstream); err != nil {
						var re *crew.RejectedError
						if errors.As(err, &re) {
							r.refused.Add(1)
							time.Sleep(max(re.RetryAfter, time.Millisecond))
						}
					}
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(begin)
	var requests uint64
	for i, r := range rs {
		_ = r.pool.Close(context.Background())
		_ = r.limiter.Close()
		_ = r.breaker.Close()
		s := r.limiter.Stats()
		requests += s.Requests
		fmt.Printf("replica %d: %d refused, %d lease requests, %d tokens leased\n", i, r.refused.Load(), s.Requests, s.Granted)
		_ = r.client.Close()
	}
	n := calls.Load()
	fmt.Printf("%d calls in %.2fs over %d replicas: %.0f/s against a cluster limit of %d/s (burst %d)\n",
		n, elapsed.Seconds(), len(rs), float64(n)/elapsed.Seconds(), limit, burst)
	fmt.Printf("%.2f Redis lease requests per call\n", float64(requests)/float64(n))
}
