package crew_test

import (
	"context"
	"errors"
	"math/big"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/crew-go/crew"
)

// windowTrial is one random workload against a limiter behind a pool,
// under fake time: random arrivals, priorities, deadlines, cancellations
// while queued or waiting, (in half the trials) a guard after the limiter
// that refuses some jobs at Start, at once or after a while, so that their
// tokens go back, and (with changes) SetLimit and SetBurst calls.
type windowTrial struct {
	r       *rand.Rand
	limit   rate.Limit
	burst   int
	changes bool

	mu     sync.Mutex
	starts []time.Time
	shapes []shape // the settings in force, from each change on
}

// lateRefusal is a guard that refuses the jobs whose ctx carries a
// refusalPlan saying so at Start, after the plan's delay, and those whose
// ctx ends during it. It counts them in refused.
type lateRefusal struct {
	passGuard
	refused *atomic.Uint64
}

type refusalPlan struct {
	delay  time.Duration
	refuse bool
}

type refusalKey struct{}

var errLate = errors.New("refused after the limiter")

func (g lateRefusal) Start(ctx context.Context, _ crew.Ticket) (crew.Ticket, error) {
	plan, _ := ctx.Value(refusalKey{}).(refusalPlan)
	if plan.delay > 0 {
		t := time.NewTimer(plan.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			g.refused.Add(1)
			return 0, ctx.Err()
		}
	}
	if plan.refuse {
		g.refused.Add(1)
		return 0, &crew.RejectedError{Guard: "late", Err: errLate}
	}
	return 0, nil
}

// shape is a limit and burst in force from a moment on.
type shape struct {
	from  time.Time
	limit rate.Limit
	burst int
}

func newWindowTrial(seed int, changes bool) *windowTrial {
	r := rand.New(rand.NewPCG(uint64(seed), 7))
	tr := &windowTrial{r: r, changes: changes}
	tr.limit, tr.burst = tr.randomShape()
	return tr
}

// randomShape returns a limit (two in three not a whole number of
// nanoseconds per token) and a burst.
func (tr *windowTrial) randomShape() (rate.Limit, int) {
	r := tr.r
	limit := rate.Limit(float64(1+r.IntN(5000)) / float64(1+r.IntN(30)))
	if r.IntN(3) == 0 {
		limit = []rate.Limit{0.5, 1, 2, 4, 5, 10, 40, 100, 1000}[r.IntN(9)]
	}
	burst := 1 + r.IntN(5)
	if r.IntN(4) == 0 {
		burst = 1 + r.IntN(50)
	}
	return limit, burst
}

// run submits the workload, waits for every job and closes the pool. It
// returns the start times, sorted, and checks the books: every Future
// resolved once, and the limiter's counters add up with nothing pending.
func (tr *windowTrial) run(t *testing.T) []time.Time {
	r := tr.r
	var opts []crew.RateLimitOption
	if r.IntN(3) == 0 {
		opts = append(opts, crew.WithMaxWait(time.Duration(r.IntN(300))*time.Millisecond))
	}
	l := crew.NewRateLimiter(tr.limit, tr.burst, opts...)
	tr.shapes = []shape{{time.Now(), tr.limit, tr.burst}}
	workers := 1 + r.IntN(16)
	var base crew.Pool[int] = crew.NewPool[int](workers)
	if r.IntN(2) == 0 {
		base = crew.NewPriorityPool[int](workers)
	}
	var refused atomic.Uint64 // by the guard after the limiter, a token taken
	late := r.IntN(2) == 0
	p := crew.Chain(base, l)
	if late {
		p = crew.Chain(base, l, lateRefusal{refused: &refused})
	}
	job := func(context.Context) (int, error) {
		tr.mu.Lock()
		tr.starts = append(tr.starts, time.Now())
		tr.mu.Unlock()
		return 0, nil
	}
	var wg sync.WaitGroup
	var futures []*crew.Future[int]
	for i := range 300 {
		ctx, cancel := context.WithCancel(context.Background())
		if prio := []int{0, 0, 0, 1, 5, -3}[r.IntN(6)]; prio != 0 {
			ctx = crew.WithPriority(ctx, prio)
		}
		if late {
			// Only a refusal waits: a guard after the limiter that waits
			// and then lets the job through moves its start past its
			// token's instant, which the bound cannot survive.
			plan := refusalPlan{refuse: r.IntN(3) == 0}
			if plan.refuse && r.IntN(4) == 0 {
				plan.delay = time.Duration(r.Int64N(int64(50 * time.Millisecond)))
			}
			ctx = context.WithValue(ctx, refusalKey{}, plan)
		}
		switch r.IntN(3) {
		case 0:
			ctx, cancel = context.WithTimeout(ctx, time.Duration(r.Int64N(int64(500*time.Millisecond))))
		case 1:
			d := time.Duration(r.Int64N(int64(300 * time.Millisecond)))
			wg.Go(func() { time.Sleep(d); cancel() })
		}
		f, err := p.Submit(ctx, job)
		if err == nil {
			futures = append(futures, f)
			wg.Go(func() { _, _ = f.Wait(context.Background()); cancel() })
		} else {
			cancel()
		}
		if tr.changes && i%37 == 36 {
			limit, burst := tr.randomShape()
			if r.IntN(2) == 0 {
				limit = tr.shapes[len(tr.shapes)-1].limit
				l.SetBurst(burst)
			} else {
				burst = tr.shapes[len(tr.shapes)-1].burst
				if r.IntN(8) == 0 {
					limit = 0
				}
				l.SetLimit(limit)
			}
			tr.shapes = append(tr.shapes, shape{time.Now(), limit, burst})
		}
		if r.IntN(3) == 0 {
			tr.sleepToEdge() // a nanosecond before a token, or on it
		} else {
			time.Sleep(time.Duration(r.Int64N(int64(40 * time.Millisecond)))) // any nanosecond
		}
	}
	if tr.changes && tr.shapes[len(tr.shapes)-1].limit == 0 {
		l.SetLimit(tr.limit) // so that no job waits for a token forever
		tr.shapes = append(tr.shapes, shape{time.Now(), tr.limit, tr.shapes[len(tr.shapes)-1].burst})
	}
	wg.Wait()
	require.NoError(t, p.Close(context.Background()))
	for _, f := range futures {
		_, ok := f.Result()
		require.True(t, ok, "an accepted job never resolved")
	}
	s := l.Stats()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	// A job the guard after the limiter refused took a token and counts
	// as started for the limiter; GaveBack says how many of those tokens
	// went back.
	assert.Equal(t, uint64(len(tr.starts))+refused.Load(), s.Started)
	assert.LessOrEqual(t, s.GaveBack, refused.Load())
	if refused.Load() > 0 {
		t.Logf("%d refused after their token, %d tokens given back", refused.Load(), s.GaveBack)
	}
	assert.GreaterOrEqual(t, s.Admitted, uint64(len(futures)), "a Submit the pool refused was admitted, then abandoned")
	assert.Equal(t, s.Admitted, s.Started+s.RefusedAtStart+s.Canceled+s.Abandoned)
	assert.Zero(t, s.Pending)
	assert.Zero(t, s.Waiting)
	slices.SortFunc(tr.starts, time.Time.Compare)
	return tr.starts
}

// sleepToEdge sleeps until a nanosecond before (or exactly when) the token
// after the latest start would be due at the documented interval, 1/limit
// rounded up to the nanosecond: where a start a nanosecond early would
// show.
func (tr *windowTrial) sleepToEdge() {
	tr.mu.Lock()
	var last time.Time
	for _, s := range tr.starts {
		if s.After(last) {
			last = s
		}
	}
	limit := tr.shapes[len(tr.shapes)-1].limit
	tr.mu.Unlock()
	if last.IsZero() || limit <= 0 {
		return
	}
	r := new(big.Rat).SetFloat64(float64(limit))
	iv := new(big.Int).Mul(big.NewInt(int64(time.Second)), r.Denom())
	iv.Add(iv, new(big.Int).Sub(r.Num(), big.NewInt(1))) // ceil
	iv.Quo(iv, r.Num())
	edge := last.Add(time.Duration(iv.Int64()) - time.Duration(tr.r.IntN(2)))
	if d := time.Until(edge); d > 0 && d < time.Second {
		time.Sleep(d)
	}
}

// TestRateLimiterWindowBoundExact checks guarantee 7 under fake time with
// no tolerance, over random limits, bursts, pools, priorities, arrivals,
// deadlines and cancellations (of jobs queued and of jobs waiting for their
// tokens): every run of starts fits burst + limit*w, w being the time from
// its first to its last.
func TestRateLimiterWindowBoundExact(t *testing.T) {
	for seed := range 100 {
		synctest.Test(t, func(t *testing.T) {
			tr := newWindowTrial(seed, false)
			starts := tr.run(t)
			t.Logf("seed %d: limit %v, burst %d, %d starts", seed, tr.limit, tr.burst, len(starts))
			checkWindowBound(t, starts, tr.limit, tr.burst)
		})
	}
}

// TestRateLimiterWindowBoundAcrossChanges is the same with SetLimit (0
// among the limits) and SetBurst calls while jobs wait: every run of
// starts fits the largest burst in force during it plus the tokens each
// limit makes over the part of the run it was in force, in exact
// arithmetic.
func TestRateLimiterWindowBoundAcrossChanges(t *testing.T) {
	for seed := range 40 {
		synctest.Test(t, func(t *testing.T) {
			tr := newWindowTrial(seed, true)
			starts := tr.run(t)
			t.Logf("seed %d: %d starts, %d changes", seed, len(starts), len(tr.shapes)-1)
			for i := range starts {
				for j := i + 1; j < len(starts); j++ {
					// Floating point settles the windows far from the bound;
					// exact arithmetic the rest.
					if float64(j-i+1) < tr.roughAllowance(starts[i], starts[j])*(1-1e-9) {
						continue
					}
					allowed := tr.allowance(starts[i], starts[j])
					if big.NewRat(int64(j-i+1), 1).Cmp(allowed) > 0 {
						t.Fatalf("%d starts in [%v, %v], %s allowed", j-i+1,
							starts[i].Sub(tr.shapes[0].from), starts[j].Sub(tr.shapes[0].from), allowed.FloatString(6))
					}
				}
			}
		})
	}
}

// roughAllowance is allowance in floating point.
func (tr *windowTrial) roughAllowance(a, c time.Time) float64 {
	tokens, burst := 0.0, 0
	for k, s := range tr.shapes {
		end := c
		if k+1 < len(tr.shapes) {
			end = tr.shapes[k+1].from
		}
		if s.from.After(c) || end.Before(a) {
			continue
		}
		burst = max(burst, s.burst)
		lo, hi := a, c
		if s.from.After(lo) {
			lo = s.from
		}
		if end.Before(hi) {
			hi = end
		}
		if hi.After(lo) {
			tokens += float64(s.limit) * hi.Sub(lo).Seconds()
		}
	}
	return tokens + float64(burst)
}

// allowance is the largest burst in force during [a, c] plus the tokens
// each limit in force makes over its part of [a, c].
func (tr *windowTrial) allowance(a, c time.Time) *big.Rat {
	tokens := new(big.Rat)
	burst := 0
	for k, s := range tr.shapes {
		end := c
		if k+1 < len(tr.shapes) {
			end = tr.shapes[k+1].from
		}
		if s.from.After(c) || end.Before(a) {
			continue // a setting is in force at both ends of its stretch
		}
		burst = max(burst, s.burst)
		lo, hi := a, c
		if s.from.After(lo) {
			lo = s.from
		}
		if end.Before(hi) {
			hi = end
		}
		if hi.After(lo) {
			made := new(big.Rat).SetFloat64(float64(s.limit))
			made.Mul(made, big.NewRat(int64(hi.Sub(lo)), int64(time.Second)))
			tokens.Add(tokens, made)
		}
	}
	return tokens.Add(tokens, big.NewRat(int64(burst), 1))
}
