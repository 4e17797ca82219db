package crewredis

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/crew-go/crew"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests run against a real redis-server at CREW_REDIS_ADDR (.ci/run
// starts one); without it they are skipped. They run in real time, so they
// poll with a deadline and never assert on timing.

func realClient(t *testing.T) *redis.Client {
	addr := os.Getenv("CREW_REDIS_ADDR")
	if addr == "" {
		t.Skip("CREW_REDIS_ADDR is not set")
	}
	c := redis.NewClient(ClientOptions(addr))
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	require.NoError(t, c.Ping(t.Context()).Err())
	return c
}

func uniqueName(t *testing.T) string {
	return fmt.Sprintf("crewredis-test:%s:%d", t.Name(), time.Now().UnixNano())
}

func TestIntegrationClusterBound(t *testing.T) {
	realClient(t)
	key := uniqueName(t)
	const limit, burst = 1000, 10
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	begin := time.Now()
	var mu sync.Mutex
	var starts []time.Duration
	var lims []*RateLimiter
	var wg sync.WaitGroup
	for range 4 {
		l := NewRateLimiter(realClient(t), key, limit, burst)
		lims = append(lims, l)
		for range 2 {
			wg.Go(func() {
				for ctx.Err() == nil {
					if err := take(ctx, l); err == nil {
						at := time.Since(begin)
						mu.Lock()
						starts = append(starts, at)
						mu.Unlock()
					}
				}
			})
		}
	}
	wg.Wait()
	var requests uint64
	for _, l := range lims {
		require.NoError(t, l.Close())
		requests += l.Stats().Requests
	}
	slices.Sort(starts)
	require.NotEmpty(t, starts)
	excess, from, to, n := worstWindow(starts, limit, burst, lims[0].TokenLifetime())
	assert.LessOrEqual(t, excess, 0.0, "%d starts in [%v, %v]", n, from, to)
	t.Logf("%d starts in 1s at a limit of %d/s; %.3f requests per start", len(starts), limit,
		float64(requests)/float64(len(starts)))
}

func TestIntegrationBreakerShared(t *testing.T) {
	realClient(t)
	name := uniqueName(t)
	cfg := crew.BreakerConfig{FailureThreshold: 1, ResetTimeout: time.Minute}
	a := NewBreaker(realClient(t), name, cfg, WithPollInterval(50*time.Millisecond))
	defer a.Close()
	b := NewBreaker(realClient(t), name, cfg, WithPollInterval(50*time.Millisecond))
	defer b.Close()
	require.Eventually(t, func() bool { return a.Stats().Requests > 0 && b.Stats().Requests > 0 },
		5*time.Second, time.Millisecond, "both read the shared state")
	require.NoError(t, callThrough(a, errDown))
	assert.Eventually(t, func() bool { return b.State() == crew.StateOpen }, 5*time.Second, time.Millisecond)
	assert.ErrorIs(t, callThrough(b, nil), crew.ErrCircuitOpen)
}
