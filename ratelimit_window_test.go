package crew_test

import (
	"context"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/crew-go/crew"
	"golang.org/x/time/rate"
)

// TestRateLimiterWindowBoundExact checks guarantee 7 under fake time, with
// random limits (two in three not a whole number of nanoseconds per token),
// bursts, arrivals and deadlines: every run of starts fits burst + limit*w,
// w being the time from its first to its last, with no tolerance. Without
// Start working out a waiting token's time itself (x/time truncates it to
// the nanosecond) or without bucketRate's extra nanosecond for a limit
// whose token is not a whole number of them, starts fall a nanosecond
// early and overshoot by billionths of a token. On odd seeds callers also
// cancel jobs that wait for their tokens; x/time gives such a token back
// with its times truncated to the nanosecond, and a start may then fall up
// to a nanosecond early, so those seeds allow limit*2ns of a token more.
func TestRateLimiterWindowBoundExact(t *testing.T) {
	for seed := range 100 {
		synctest.Test(t, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(seed), 1))
			limit := rate.Limit(float64(1+r.IntN(5000)) / float64(1+r.IntN(30)))
			if seed%3 == 0 { // whole nanoseconds per token: the bucket runs at limit itself
				limit = []rate.Limit{0.5, 1, 2, 4, 5, 10, 40, 100, 1000}[r.IntN(9)]
			}
			burst := 1 + r.IntN(5)
			l := crew.NewRateLimiter(limit, burst)
			p := crew.Chain[int](crew.NewPool[int](16), l)
			var mu sync.Mutex
			var starts []time.Time
			job := func(context.Context) (int, error) {
				mu.Lock()
				starts = append(starts, time.Now())
				mu.Unlock()
				return 0, nil
			}
			var wg sync.WaitGroup
			for range 300 {
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				switch r.IntN(3) {
				case 0:
					ctx, cancel = context.WithTimeout(ctx, time.Duration(r.IntN(500))*time.Millisecond)
				case 1:
					if seed%2 == 0 {
						break
					}
					ctx, cancel = context.WithCancel(ctx)
					d := time.Duration(r.IntN(300)) * time.Millisecond
					wg.Go(func() { time.Sleep(d); cancel() })
				}
				f, err := p.Submit(ctx, job)
				if err == nil {
					wg.Go(func() { f.Wait(context.Background()); cancel() })
				} else {
					cancel()
				}
				time.Sleep(time.Duration(r.IntN(40)) * time.Millisecond)
			}
			wg.Wait()
			p.Close(context.Background())
			sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
			slack := 0.0
			if seed%2 == 1 {
				slack = float64(limit) * 2e-9
			}
			t.Logf("seed %d", seed)
			checkWindowBound(t, starts, limit, burst, slack)
		})
	}
}
