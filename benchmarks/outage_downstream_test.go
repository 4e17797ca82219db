package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/failsafe-go/failsafe-go/timeout"
)

// The outage scenario's downstream and its bookkeeping; the benchmark and
// the two clients are in outage_test.go.

// outageScenario is the workload: what the downstream does and what the
// clients are asked to do. Every figure of the scenario is here.
type outageScenario struct {
	jobs        int           // jobs (URLs) in all, submitted at once
	urgentEvery int           // every n-th job is urgent (WithPriority 1)
	quota       float64       // calls a second the downstream serves ...
	quotaBurst  float64       // ... with this burst; beyond, 429 with a RetryAfter
	errorRate   float64       // share of calls within quota that fail with a 500
	outageAt    time.Duration // from the start: every call fails with a 503 ...
	outageFor   time.Duration // ... for this long
	minLatency  time.Duration // a call takes between min and max (uniform) ...
	maxLatency  time.Duration
	seed        uint64        // ... drawn, like its 500s, from (seed, job, call number)
	workers     int           // concurrency of the client
	deadline    time.Duration // each job's own deadline, from the start
	runTimeout  time.Duration // each call's deadline, from when it starts
}

// theOutage is the scenario of issue 11: 200 URLs, a quarter urgent, a
// quota of 50 calls a second, 20% 500s, and a 0.6 s outage.
var theOutage = outageScenario{
	jobs:        200,
	urgentEvery: 4,
	quota:       50,
	quotaBurst:  10,
	errorRate:   0.2,
	outageAt:    time.Second,
	outageFor:   600 * time.Millisecond,
	minLatency:  5 * time.Millisecond,
	maxLatency:  25 * time.Millisecond,
	seed:        outageSeed(),
	workers:     8,
	deadline:    30 * time.Second,
	runTimeout:  time.Second,
}

func (s *outageScenario) urgent(job int) bool { return job%s.urgentEvery == 0 }

// statusError is the downstream's failure: an HTTP-like status, and for a
// 429 how long until the quota has room again. It has the RetryAfter()
// method crew's Retry reads, as an error type of a real client could.
type statusError struct {
	code  int
	after time.Duration
}

func (e *statusError) Error() string {
	if e.after > 0 {
		return fmt.Sprintf("status %d (retry after %v)", e.code, e.after.Round(time.Millisecond))
	}
	return fmt.Sprintf("status %d", e.code)
}

func (e *statusError) RetryAfter() time.Duration { return e.after }

// isOutageFailure tells what a breaker should count as the downstream
// failing: a 5xx, or a call that ran out of time. A 429 is the downstream
// asking us to slow down, which the limiter and the RetryAfter handle.
func isOutageFailure(err error) bool {
	if se, ok := errors.AsType[*statusError](err); ok {
		return se.code >= 500
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, timeout.ErrExceeded)
}

// downstream simulates the service both clients call, in process. It
// enforces its quota itself (a token bucket: over it, a 429 with the time
// until the next token), fails a call with a 500 at errorRate and with a 503
// throughout the outage window. Whether a call fails with a 500, and how
// long it takes, depend only on the seed, the job and the number of the
// job's call, so both clients meet the same downstream whatever the
// goroutines' order. It is safe for concurrent use.
type downstream struct {
	s     *outageScenario
	start time.Time

	mu       sync.Mutex
	tokens   float64
	last     time.Time
	perJob   []int // calls so far, by job
	calls    int
	inOutage int // calls that arrived during the outage window
	status   map[int]int
}

func newDownstream(s *outageScenario, start time.Time) *downstream {
	return &downstream{
		s: s, start: start,
		tokens: s.quotaBurst, last: start,
		perJob: make([]int, s.jobs), status: map[int]int{},
	}
}

// call is one call of job to the downstream: it takes its latency (or
// until ctx ends) and returns nil or a *statusError.
func (d *downstream) call(ctx context.Context, job int) error {
	now := time.Now()
	d.mu.Lock()
	n := d.perJob[job]
	d.perJob[job]++
	d.calls++
	since := now.Sub(d.start)
	outage := since >= d.s.outageAt && since < d.s.outageAt+d.s.outageFor
	if outage {
		d.inOutage++
	}
	// The quota: a token bucket, refilled at quota a second up to the burst.
	d.tokens = min(d.s.quotaBurst, d.tokens+now.Sub(d.last).Seconds()*d.s.quota)
	d.last = now
	var err *statusError
	switch {
	case d.tokens < 1:
		after := time.Duration(math.Ceil((1 - d.tokens) / d.s.quota * float64(time.Second)))
		err = &statusError{code: 429, after: after}
	case outage:
		d.tokens--
		err = &statusError{code: 503}
	default:
		d.tokens--
		if d.draw(job, n, 0) < d.s.errorRate {
			err = &statusError{code: 500}
		}
	}
	code := 200
	if err != nil {
		code = err.code
	}
	d.status[code]++
	d.mu.Unlock()
	d.tracef("call %d of job %d: %d", n+1, job, code)

	span := float64(d.s.maxLatency - d.s.minLatency)
	latency := d.s.minLatency + time.Duration(d.draw(job, n, 1)*span)
	t := time.NewTimer(latency)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err != nil {
		return err // not a nil *statusError in a non-nil error
	}
	return nil
}

// callsOf returns how many calls job made.
func (d *downstream) callsOf(job int) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.perJob[job]
}

// tracef prints a line of the run's timeline to stderr, with the time since
// the start, when CREW_OUTAGE_TRACE is set: to see what a client did.
func (d *downstream) tracef(format string, args ...any) {
	if !traceOutage {
		return
	}
	fmt.Fprintf(os.Stderr, "%7.3fs "+format+"\n", append([]any{time.Since(d.start).Seconds()}, args...)...)
}

var traceOutage = os.Getenv("CREW_OUTAGE_TRACE") != ""

// outageSeed is CREW_OUTAGE_SEED, 1 by default: another seed draws other
// 500s and latencies, to see which figures are the luck of one draw.
func outageSeed() uint64 {
	if n, err := strconv.ParseUint(os.Getenv("CREW_OUTAGE_SEED"), 10, 64); err == nil {
		return n
	}
	return 1
}

// draw returns a number in [0, 1) fixed by the scenario's seed, the job,
// the number of its call and what it is for.
func (d *downstream) draw(job, call, what int) float64 {
	x := d.s.seed ^ uint64(job)<<32 ^ uint64(call)<<8 ^ uint64(what)
	// splitmix64: a fixed, well-mixed function of x.
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

// outageResult is what one run of the scenario measured.
type outageResult struct {
	done, expired, lost int // succeeded; failed by their own deadline; neither
	calls, inOutage     int
	status              map[int]int
	drain               time.Duration   // start to the last job's outcome
	urgent, normal      []time.Duration // completion latencies of the jobs that succeeded
	trips               int             // times the breaker opened
	retries             int             // retries the client scheduled
}

// outcome collects the jobs' outcomes as they come, from any goroutine.
type outcome struct {
	s       *outageScenario
	start   time.Time
	mu      sync.Mutex
	res     outageResult
	lost    int // a lost job, and its error, for the benchmark's log
	lostErr error
}

func newOutcome(s *outageScenario, start time.Time) *outcome {
	return &outcome{s: s, start: start}
}

// record takes job's outcome at time now; expired says whether the job's own
// deadline had passed.
func (o *outcome) record(job int, err error, expired bool, now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	took := now.Sub(o.start)
	o.res.drain = max(o.res.drain, took)
	switch {
	case err == nil:
		o.res.done++
		if o.s.urgent(job) {
			o.res.urgent = append(o.res.urgent, took)
		} else {
			o.res.normal = append(o.res.normal, took)
		}
	case expired:
		o.res.expired++
	default:
		o.res.lost++
		o.lost, o.lostErr = job, err
	}
}

// result returns the outcome with the downstream's counts.
func (o *outcome) result(d *downstream) outageResult {
	o.mu.Lock()
	r := o.res
	o.mu.Unlock()
	d.mu.Lock()
	r.calls, r.inOutage, r.status = d.calls, d.inOutage, maps.Clone(d.status)
	d.mu.Unlock()
	slices.Sort(r.urgent)
	slices.Sort(r.normal)
	return r
}

// percentile returns the p-th percentile (nearest rank) of sorted, in
// milliseconds; 0 if sorted is empty.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	i = min(max(i, 0), len(sorted)-1)
	return float64(sorted[i]) / float64(time.Millisecond)
}
