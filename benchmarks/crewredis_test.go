package benchmarks

import (
	"context"
	"errors"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/crew-go/crew"
	"github.com/crew-go/crew/crewredis"
	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"
)

// The cluster guards of crewredis beside crew's local guards and
// go-redis/redis_rate (one Lua round trip per call). They use the Redis at
// CREW_REDIS_ADDR, or an in-process miniredis over TCP when it is unset.

// redisAddr returns the Redis to benchmark against and a func to stop it.
func redisAddr(b *testing.B) (string, func()) {
	if addr := os.Getenv("CREW_REDIS_ADDR"); addr != "" {
		return addr, func() {}
	}
	mr, err := miniredis.Run()
	if err != nil {
		b.Fatal(err)
	}
	return mr.Addr(), mr.Close
}

// countingHook counts the commands a client sends.
type countingHook struct{ n *atomic.Int64 }

func (h countingHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h countingHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h countingHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(int64(len(cmds))); return next(ctx, cmds) }
}

// BenchmarkClusterGuardPath is the cost of one call through a guard (Admit,
// Start, the call, Done) when the limit is far above the call rate: for
// crewredis the tokens are leased ahead, so no call waits on Redis.
func BenchmarkClusterGuardPath(b *testing.B) {
	addr, stop := redisAddr(b)
	defer stop()
	type guard struct {
		name string
		new  func(c *redis.Client) (func(fn func() (int, error)) (int, error), func())
	}
	guards := []guard{
		{"crew-local-limiter", func(*redis.Client) (func(fn func() (int, error)) (int, error), func()) {
			return guardPath(crew.NewRateLimiter(rate.Limit(1e10), 1<<30)), func() {}
		}},
		{"crewredis-limiter", func(c *redis.Client) (func(fn func() (int, error)) (int, error), func()) {
			l := crewredis.NewRateLimiter(c, "bench:path:"+time.Now().String(), 1e6, 1<<20)
			return guardPath(l), func() { _ = l.Close() }
		}},
		{"crew-local-breaker", func(*redis.Client) (func(fn func() (int, error)) (int, error), func()) {
			return guardPath(crew.NewBreaker(crew.BreakerConfig{})), func() {}
		}},
		{"crewredis-breaker", func(c *redis.Client) (func(fn func() (int, error)) (int, error), func()) {
			br := crewredis.NewBreaker(c, "bench:"+time.Now().String(), crew.BreakerConfig{})
			return guardPath(br), func() { _ = br.Close() }
		}},
		{"crewredis-both", func(c *redis.Client) (func(fn func() (int, error)) (int, error), func()) {
			l := crewredis.NewRateLimiter(c, "bench:both:"+time.Now().String(), 1e6, 1<<20)
			br := crewredis.NewBreaker(c, "bench:both:"+time.Now().String(), crew.BreakerConfig{})
			return guardPath(l, br), func() { _ = l.Close(); _ = br.Close() }
		}},
		{"gobreaker-distributed", func(c *redis.Client) (func(fn func() (int, error)) (int, error), func()) {
			cb, err := gobreaker.NewDistributedCircuitBreaker[int](redisStore{c}, gobreaker.Settings{Name: "bench:gobreaker:" + time.Now().String()})
			if err != nil {
				b.Fatal(err)
			}
			return func(fn func() (int, error)) (int, error) { return cb.Execute(fn) }, func() {}
		}},
		{"redis_rate", func(c *redis.Client) (func(fn func() (int, error)) (int, error), func()) {
			lim := redis_rate.NewLimiter(c)
			key := "bench:redis_rate:" + time.Now().String()
			ctx := context.Background()
			return func(fn func() (int, error)) (int, error) {
				res, err := lim.Allow(ctx, key, redis_rate.PerSecond(1_000_000_000))
				if err != nil {
					return 0, err
				}
				if res.Allowed == 0 {
					return 0, crew.ErrRateLimited
				}
				return fn()
			}, func() {}
		}},
	}
	for _, g := range guards {
		b.Run(g.name, func(b *testing.B) {
			c := redis.NewClient(crewredis.ClientOptions(addr))
			defer c.Close()
			var cmds atomic.Int64
			c.AddHook(countingHook{&cmds})
			call, done := g.new(c)
			defer done()
			var ran atomic.Int64
			fn := func() (int, error) { ran.Add(1); return 1, nil }
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := call(fn); err != nil {
						b.Errorf("%s: %v", g.name, err)
						return
					}
				}
			})
			b.StopTimer()
			if got := ran.Load(); got != int64(b.N) {
				b.Fatalf("%s: %d calls ran, want %d", g.name, got, b.N)
			}
			b.ReportMetric(float64(cmds.Load())/float64(b.N), "redis-cmds/call")
		})
	}
}

// BenchmarkClusterPrecision runs 8 replicas, each with its own client and
// 4 submitters, against one cluster limit of 2000/s with burst 20, for 3s
// of real time (b.N is ignored), and reports the most starts seen in any
// window of 1ms, 10ms, 100ms and 1s beside guarantee 15's bound
// burst + limit*(w+E) + 1, the share of the limit achieved, and the Redis
// commands per start.
func BenchmarkClusterPrecision(b *testing.B) {
	addr, stop := redisAddr(b)
	defer stop()
	const replicas, submitters, limit, burst = 8, 4, 2000, 20
	const run = 3 * time.Second
	for b.Loop() {
		key := "bench:precision:" + time.Now().String()
		var cmds atomic.Int64
		var lims []*crewredis.RateLimiter
		var clients []*redis.Client
		var mu sync.Mutex
		var starts []time.Duration
		ctx, cancel := context.WithTimeout(context.Background(), run)
		begin := time.Now()
		var wg sync.WaitGroup
		for range replicas {
			c := redis.NewClient(crewredis.ClientOptions(addr))
			c.AddHook(countingHook{&cmds})
			clients = append(clients, c)
			l := crewredis.NewRateLimiter(c, key, limit, burst)
			lims = append(lims, l)
			for range submitters {
				wg.Go(func() {
					var mine []time.Duration
					for ctx.Err() == nil {
						t, err := l.Admit(ctx)
						if err == nil {
							_, err = l.Start(ctx, t)
						}
						if err == nil {
							mine = append(mine, time.Since(begin))
							l.Done(0, nil, 0)
						}
					}
					mu.Lock()
					starts = append(starts, mine...)
					mu.Unlock()
				})
			}
		}
		wg.Wait()
		cancel()
		e := lims[0].TokenLifetime()
		for i := range lims {
			_ = lims[i].Close()
			_ = clients[i].Close()
		}
		slices.Sort(starts)
		for _, w := range []time.Duration{time.Millisecond, 10 * time.Millisecond, 100 * time.Millisecond, time.Second} {
			most, j := 0, 0
			for i := range starts {
				for j < len(starts) && starts[j]-starts[i] < w {
					j++
				}
				most = max(most, j-i)
			}
			bound := float64(burst) + limit*(w+e).Seconds() + 1
			b.ReportMetric(float64(most), "most-in-"+w.String())
			b.ReportMetric(bound, "bound-"+w.String())
			if float64(most) > bound {
				b.Errorf("%d starts in a window of %v: the bound is %.0f", most, w, bound)
			}
		}
		b.ReportMetric(float64(len(starts))/(burst+limit*run.Seconds()), "share-of-limit")
		b.ReportMetric(float64(cmds.Load())/float64(len(starts)), "redis-cmds/start")
	}
}

// redisStore is gobreaker v2's SharedDataStore on Redis, written plainly
// (gobreaker ships none): a lock is a key set with NX and a 1 s expiry,
// retried every 100 us while another holder has it; the state is one key.
type redisStore struct{ c *redis.Client }

func (s redisStore) Lock(name string) error {
	ctx := context.Background()
	for {
		ok, err := s.c.SetNX(ctx, "lock:"+name, 1, time.Second).Result()
		if err != nil || ok {
			return err
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func (s redisStore) Unlock(name string) error {
	return s.c.Del(context.Background(), "lock:"+name).Err()
}

func (s redisStore) GetData(name string) ([]byte, error) {
	b, err := s.c.Get(context.Background(), name).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	return b, err
}

func (s redisStore) SetData(name string, data []byte) error {
	return s.c.Set(context.Background(), name, data, 0).Err()
}
