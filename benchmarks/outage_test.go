package benchmarks

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crew-go/crew"
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/ratelimiter"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/failsafe-go/failsafe-go/timeout"
	"golang.org/x/time/rate"
)

// BenchmarkOutage runs the outage scenario of issue 11 (theOutage, in
// outage_downstream_test.go) through crew and through failsafe-go, against
// the same simulated downstream. One b.N iteration is the whole workload:
// submit every job, wait for the last outcome, close. The figures reported
// are per workload, averaged over b.N (1 with -benchtime=1x, and with the
// default benchtime too, as a run outlasts it).
func BenchmarkOutage(b *testing.B) {
	clients := []struct {
		name string
		run  func(*outageScenario, *downstream, *outcome) (trips, retries int)
	}{
		{"crew", crewOutage(false)},
		{"crew-breaker-first", crewOutage(true)},
		{"failsafe", runFailsafeOutage},
	}
	for _, c := range clients {
		b.Run(c.name, func(b *testing.B) {
			var sum outageSums
			for b.Loop() {
				s := theOutage
				start := time.Now()
				d := newDownstream(&s, start)
				o := newOutcome(&s, start)
				trips, retries := c.run(&s, d, o)
				r := o.result(d)
				r.trips, r.retries = trips, retries
				if got := r.done + r.expired + r.lost; got != s.jobs {
					b.Fatalf("%s: %d jobs have an outcome, want %d", c.name, got, s.jobs)
				}
				if r.lost > 0 {
					b.Logf("%s: %d jobs lost; job %d after %d downstream calls, with %v",
						c.name, r.lost, o.lost, d.callsOf(o.lost), o.lostErr)
				}
				sum.add(r)
			}
			sum.report(b)
		})
	}
}

// The clients' settings, the same for crew and failsafe-go; the README's
// "Outage scenario" section says why each.
const (
	outageTripAfter   = 7                      // consecutive failures that open the breaker
	outageOpenFor     = 500 * time.Millisecond // open this long before a probe
	outageMaxAttempts = 10                     // attempts in all, refused ones included
	outageBackoff     = 100 * time.Millisecond // first back-off, doubling ...
	outageMaxBackoff  = 2 * time.Second        // ... up to this
)

// crewOutage returns the crew client, configured as its docs suggest:
// Retry(Chain(PriorityPool, limiter, breaker)), each call bounded by
// WithRunTimeout; benchmarks/README.md says why each setting. With
// breakerFirst, the Chain's guards are the other way round, the breaker
// outermost, to show what the order costs.
func crewOutage(breakerFirst bool) func(*outageScenario, *downstream, *outcome) (int, int) {
	return func(s *outageScenario, d *downstream, o *outcome) (int, int) {
		return runCrewOutage(s, d, o, breakerFirst)
	}
}

func runCrewOutage(s *outageScenario, d *downstream, o *outcome, breakerFirst bool) (trips, retries int) {
	var nTrips, nRetries atomic.Int64
	limiter := crew.NewRateLimiter(rate.Limit(s.quota), 1)
	breaker := crew.NewBreaker(crew.BreakerConfig{
		FailureThreshold: outageTripAfter,
		ResetTimeout:     outageOpenFor,
		IsFailure:        isOutageFailure,
		OnStateChange: func(from, to crew.CircuitState) {
			d.tracef("crew breaker: %v -> %v", from, to)
			if to == crew.StateOpen {
				nTrips.Add(1)
			}
		},
	})
	guards := []crew.Guard{limiter, breaker}
	if breakerFirst {
		guards = []crew.Guard{breaker, limiter}
	}
	pool := crew.Retry(crew.Chain(crew.NewPriorityPool[int](s.workers, crew.WithAging(0)), guards...), crew.RetryPolicy{
		MaxAttempts: outageMaxAttempts,
		BaseDelay:   outageBackoff,
		MaxDelay:    outageMaxBackoff,
		OnRetry: func(n int, err error, wait time.Duration) {
			nRetries.Add(1)
			d.tracef("crew retry: attempt %d in %v after %v", n, wait.Round(time.Millisecond), err)
		},
	})

	parent, cancel := context.WithDeadline(context.Background(), o.start.Add(s.deadline))
	defer cancel()
	var wg sync.WaitGroup
	for job := range s.jobs {
		ctx := parent
		if s.urgent(job) {
			ctx = crew.WithPriority(ctx, 1)
		}
		ctx = crew.WithRunTimeout(ctx, s.runTimeout)
		f, err := pool.Submit(ctx, func(ctx context.Context) (int, error) {
			return job, d.call(ctx, job)
		})
		if err != nil {
			o.record(job, err, parent.Err() != nil, time.Now())
			continue
		}
		wg.Go(func() {
			<-f.Done()
			now := time.Now()
			_, err := f.Wait(context.Background())
			o.record(job, err, parent.Err() != nil, now)
		})
	}
	wg.Wait()
	_ = pool.Close(context.Background())
	return int(nTrips.Load()), int(nRetries.Load())
}

// runFailsafeOutage is the failsafe-go client, composed as failsafe-go's
// docs recommend (retry, then the rate limiter and the circuit breaker, then
// a timeout per attempt), run by s.workers goroutines that take urgent jobs
// first. It gets the same information as crew's: the delay before a retry
// is the error's RetryAfter, or the time the breaker stays open.
func runFailsafeOutage(s *outageScenario, d *downstream, o *outcome) (trips, retries int) {
	var nTrips, nRetries atomic.Int64
	breaker := circuitbreaker.NewBuilder[int]().
		HandleIf(func(_ int, err error) bool { return isOutageFailure(err) }).
		WithFailureThreshold(outageTripAfter).
		WithDelay(outageOpenFor).
		WithSuccessThreshold(1).
		OnOpen(func(circuitbreaker.StateChangedEvent) { nTrips.Add(1) }).
		OnStateChanged(func(e circuitbreaker.StateChangedEvent) {
			d.tracef("failsafe breaker: %v -> %v", e.OldState, e.NewState)
		}).
		Build()
	limiter := ratelimiter.NewSmoothBuilder[int](uint(s.quota), time.Second).
		WithMaxWaitTime(time.Second).
		Build()
	retry := retrypolicy.NewBuilder[int]().
		WithMaxAttempts(outageMaxAttempts).
		WithBackoff(outageBackoff, outageMaxBackoff).
		WithJitterFactor(0.25).
		WithDelayFunc(func(exec failsafe.ExecutionAttempt[int]) time.Duration {
			err := exec.LastError()
			if errors.Is(err, circuitbreaker.ErrOpen) {
				return breaker.RemainingDelay()
			}
			if se, ok := errors.AsType[*statusError](err); ok && se.after > 0 {
				return se.after
			}
			return -1 // the back-off
		}).
		OnRetry(func(e failsafe.ExecutionEvent[int]) {
			nRetries.Add(1)
			d.tracef("failsafe retry: attempt %d after %v", e.Attempts()+1, e.LastError())
		}).
		ReturnLastFailure().
		Build()
	executor := failsafe.With[int](retry, limiter, breaker, timeout.New[int](s.runTimeout))

	parent, cancel := context.WithDeadline(context.Background(), o.start.Add(s.deadline))
	defer cancel()
	q := newTwoQueues(s)
	var wg sync.WaitGroup
	for range s.workers {
		wg.Go(func() {
			for job, ok := q.next(); ok; job, ok = q.next() {
				_, err := executor.WithContext(parent).GetWithExecution(func(exec failsafe.Execution[int]) (int, error) {
					return job, d.call(exec.Context(), job)
				})
				o.record(job, err, parent.Err() != nil, time.Now())
			}
		})
	}
	wg.Wait()
	return int(nTrips.Load()), int(nRetries.Load())
}

// twoQueues hands out the jobs, urgent ones first, to the failsafe
// client's workers: the priority a user of a plain worker pool would
// write.
type twoQueues struct {
	mu             sync.Mutex
	urgent, normal []int
}

func newTwoQueues(s *outageScenario) *twoQueues {
	q := &twoQueues{}
	for job := range s.jobs {
		if s.urgent(job) {
			q.urgent = append(q.urgent, job)
		} else {
			q.normal = append(q.normal, job)
		}
	}
	return q
}

func (q *twoQueues) next() (int, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, l := range []*[]int{&q.urgent, &q.normal} {
		if len(*l) > 0 {
			job := (*l)[0]
			*l = (*l)[1:]
			return job, true
		}
	}
	return 0, false
}

// outageSums adds up the runs' results, to report their averages.
type outageSums struct {
	n                                    int
	done, lost, expired                  float64
	calls, inOutage, status429, drainSec float64
	trips, retries                       float64
	urgentP50, urgentP99                 float64
	normalP50, normalP99                 float64
	jobs                                 float64
}

func (t *outageSums) add(r outageResult) {
	t.n++
	t.jobs += float64(r.done + r.expired + r.lost)
	t.done += float64(r.done)
	t.lost += float64(r.lost)
	t.expired += float64(r.expired)
	t.calls += float64(r.calls)
	t.inOutage += float64(r.inOutage)
	t.status429 += float64(r.status[429])
	t.drainSec += r.drain.Seconds()
	t.trips += float64(r.trips)
	t.retries += float64(r.retries)
	t.urgentP50 += percentile(r.urgent, 0.50)
	t.urgentP99 += percentile(r.urgent, 0.99)
	t.normalP50 += percentile(r.normal, 0.50)
	t.normalP99 += percentile(r.normal, 0.99)
}

func (t *outageSums) report(b *testing.B) {
	if t.n == 0 {
		return
	}
	n := float64(t.n)
	b.ReportMetric(t.done/n, "done")
	b.ReportMetric(t.lost/n, "lost")
	b.ReportMetric(t.expired/n, "expired")
	b.ReportMetric(t.calls/n, "calls")
	b.ReportMetric(t.inOutage/n, "outage-calls")
	b.ReportMetric(t.calls/t.jobs, "calls/job")
	b.ReportMetric(t.status429/n, "429s")
	b.ReportMetric(t.drainSec/n, "drain-s")
	b.ReportMetric(t.trips/n, "trips")
	b.ReportMetric(t.retries/n, "retries")
	b.ReportMetric(t.urgentP50/n, "urgent-p50-ms")
	b.ReportMetric(t.urgentP99/n, "urgent-p99-ms")
	b.ReportMetric(t.normalP50/n, "normal-p50-ms")
	b.ReportMetric(t.normalP99/n, "normal-p99-ms")
}
