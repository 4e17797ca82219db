package crewredis

import (
	"context"
	"testing"
	"time"

	"github.com/crew-go/crew"
)

// BenchmarkHotPath is Admit+Start+Done with a token on hand: the path of
// every job while leases keep up. The lease is planted, so the figure is
// the hot path alone at any rate (a real limiter tops out at a million
// starts a second, Redis's microsecond).
func BenchmarkHotPath(b *testing.B) {
	r := newTestRedis(&testing.T{})
	l := NewRateLimiter(r.client(&testing.T{}), "bench", 1e6, 1<<20)
	defer l.Close()
	ls := &lease{expires: time.Duration(1 << 62)}
	ls.n.Store(1 << 62)
	l.cur.Store(ls)
	br := NewBreaker(r.client(&testing.T{}), "bench", crew.BreakerConfig{})
	defer br.Close()
	for _, bc := range []struct {
		name   string
		guards []crew.Guard
	}{{"limiter", []crew.Guard{l}}, {"breaker", []crew.Guard{br}}, {"limiter+breaker", []crew.Guard{l, br}}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var adm, run [2]crew.Ticket
				for pb.Next() {
					for i, g := range bc.guards {
						adm[i], _ = g.Admit(ctx)
					}
					for i, g := range bc.guards {
						run[i], _ = g.Start(ctx, adm[i])
					}
					for i := len(bc.guards) - 1; i >= 0; i-- {
						bc.guards[i].Done(run[i], nil, 0)
					}
				}
			})
		})
	}
}
