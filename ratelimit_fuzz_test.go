package crew_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"

	"github.com/crew-go/crew"
)

// FuzzRateLimiterSettings throws limits and bursts at NewRateLimiter,
// SetLimit and SetBurst: each call either panics with a crew: message, for
// exactly the settings the docs refuse, or works; a finite limit with a
// small burst lets exactly the burst through at one instant (it never
// becomes unlimited); and the counters add up after every change.
func FuzzRateLimiterSettings(f *testing.F) {
	f.Add(3.0, 2, 1e-300, 1, 0)
	f.Add(math.Inf(1), 0, 0.0, 5, 1)
	f.Add(math.NaN(), 1, 1.0, 1, 1)
	f.Add(1e300, math.MaxInt, -1.0, 3, -4)
	f.Add(0.0, 0, 2e-10, math.MinInt, math.MaxInt)
	f.Fuzz(func(t *testing.T, limit1 float64, burst1 int, limit2 float64, burst2, burst3 int) {
		valid := func(limit float64, burst int) bool {
			return !math.IsNaN(limit) && limit >= 0 && burst >= 0 && (burst > 0 || limit >= math.MaxFloat64)
		}
		call := func(want bool, what string, fn func()) (ok bool) {
			defer func() {
				r := recover()
				if r != nil && !strings.HasPrefix(fmt.Sprint(r), "crew: ") {
					t.Fatalf("%s panicked without the crew: prefix: %v", what, r)
				}
				if (r == nil) != want {
					t.Fatalf("%s: panicked %v, want a panic %v (%v)", what, r != nil, !want, r)
				}
				ok = r == nil
			}()
			fn()
			return true
		}
		synctest.Test(t, func(t *testing.T) {
			var l *crew.RateLimiter
			if !call(valid(limit1, burst1), fmt.Sprintf("NewRateLimiter(%v, %d)", limit1, burst1), func() {
				l = crew.NewRateLimiter(rate.Limit(limit1), burst1, crew.WithMaxWait(0))
			}) {
				return
			}
			limit, burst := limit1, burst1
			check := func() {
				n := takeAll(t, l, 100)
				switch {
				case limit >= math.MaxFloat64:
					if n != 100 {
						t.Fatalf("limit %v: %d of 100 started", limit, n)
					}
				case limit >= 1e-7 || limit == 0: // bursts this small are not capped
					if n > min(burst, 100) {
						t.Fatalf("limit %v, burst %d: %d started at once", limit, burst, n)
					}
				default:
					if n > burst {
						t.Fatalf("limit %v, burst %d: %d started at once", limit, burst, n)
					}
				}
				s := l.Stats()
				if s.Admitted != s.Started+s.RefusedAtStart+s.Canceled+s.Abandoned || s.Pending != 0 || s.Waiting != 0 {
					t.Fatalf("the counters do not add up: %+v", s)
				}
				time.Sleep(time.Second)
			}
			check()
			if call(valid(limit2, burst), fmt.Sprintf("SetLimit(%v) with burst %d", limit2, burst), func() { l.SetLimit(rate.Limit(limit2)) }) {
				limit = limit2
				check()
			}
			if call(valid(limit, burst2), fmt.Sprintf("SetBurst(%d) with limit %v", burst2, limit), func() { l.SetBurst(burst2) }) {
				burst = burst2
				check()
			}
			if call(valid(limit, burst3), fmt.Sprintf("SetBurst(%d) with limit %v", burst3, limit), func() { l.SetBurst(burst3) }) {
				burst = burst3
				check()
			}
		})
	})
}

// takeAll admits and starts jobs at one instant until one is refused, at
// most max, and returns how many started.
func takeAll(t *testing.T, l *crew.RateLimiter, max int) int {
	ctx := context.Background()
	for n := range max {
		tk, err := l.Admit(ctx)
		if err != nil {
			return n
		}
		if _, err := l.Start(ctx, tk); err != nil {
			t.Fatalf("admitted with WithMaxWait(0) but refused at start: %v", err)
		}
	}
	return max
}
