package crew

import (
	"math"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// FuzzTokenDelay checks the token maths behind Admit's estimate and
// RetryAfter: never negative, zero when nothing is needed, never early
// (by then limit has produced need tokens) and late by at most a
// nanosecond, and growing with need.
func FuzzTokenDelay(f *testing.F) {
	f.Add(1.0, 10.0)
	f.Add(0.5, 0.1)
	f.Add(-3.0, 5.0)
	f.Add(20001.0, 10000.0)
	f.Add(1.0, 0.0)
	f.Fuzz(func(t *testing.T, need, limit float64) {
		if math.IsNaN(need) || math.IsNaN(limit) || limit < 0 || math.IsInf(need, 0) {
			return
		}
		lim := rate.Limit(limit)
		d := tokenDelay(need, lim)
		switch {
		case d < 0:
			t.Fatalf("tokenDelay(%v, %v) = %v < 0", need, limit, d)
		case need <= 0 || lim == rate.Inf:
			if d != 0 {
				t.Fatalf("tokenDelay(%v, %v) = %v, want 0", need, limit, d)
			}
			return
		case limit == 0:
			if d != rate.InfDuration {
				t.Fatalf("tokenDelay(%v, 0) = %v, want InfDuration", need, d)
			}
			return
		}
		if d == rate.InfDuration {
			if exact := need / limit * 1e9; exact < math.MaxInt64/2 {
				t.Fatalf("tokenDelay(%v, %v) = InfDuration for %v ns", need, limit, exact)
			}
			return
		}
		exact := need / limit * float64(time.Second)
		if float64(d) < exact*(1-1e-12) || float64(d) > math.Ceil(exact)+1 {
			t.Fatalf("tokenDelay(%v, %v) = %v, exact %v ns", need, limit, d, exact)
		}
		if d2 := tokenDelay(need*2, lim); d2 < d {
			t.Fatalf("tokenDelay not monotone: %v for %v, %v for %v", d, need, d2, need*2)
		}
	})
}
