package crewprom

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crew-go/crew"
)

// Observer turns what a pool's crew.Observer hears into Prometheus series:
// each job's queue wait and run time as histograms, and each refusal
// counted by the guard that made it. Create it with NewObserver, hand
// Observer() to the pool's constructor through crew.WithObserver, and
// register it. One Observer may serve several pools: their jobs then add
// up under its one pool label.
//
// An Observer is a prometheus.Collector and is safe for concurrent use.
type Observer struct {
	wait, run *histogram
	refusals  *prometheus.CounterVec

	// One counter per guard name and stage, found without hashing the
	// labels again: a refusal comes when a pool is overloaded, which is
	// when its cost matters.
	atSubmit, atStart sync.Map // guard name -> prometheus.Counter
}

// NewObserver returns an Observer whose series carry the label
// pool=pool:
//
//   - crew_pool_job_wait_seconds (histogram): how long each job waited in
//     the queue, until a worker took it or it left the queue without
//     running (crew.JobInfo.Wait); every accepted job is observed once.
//   - crew_pool_job_run_seconds (histogram): how long each job that ran
//     took, from when its guards let it start to its return.
//   - crew_pool_refusals_total{guard, stage} (counter): refusals by what
//     made them. stage="submit": a Submit returned an error, and guard is
//     what refused it (a guard's name, "queue" for a full queue, "closed"
//     after Close, "ctx" for an ended ctx, "input" for a nil ctx or job;
//     see crew.Observer). stage="start": an accepted job never ran because
//     a guard refused it as a worker was about to start it, or because a
//     priority queue evicted it for a more urgent one (guard="queue").
//     A series appears at its first refusal.
//
// Under crew.Retry every attempt is a job. There is one refusal series per
// guard name and stage: at most two per guard the pool has, plus five
// ("queue" at both stages, "closed", "ctx", "input").
//
// Both histograms have these buckets unless WithWaitBuckets or
// WithRunBuckets set others: from 100µs to 10s in steps of 1, 2.5 and 5
// (.0001, .00025, .0005, .001 ... 2.5, 5, 10), the range of jobs that call
// a downstream: prometheus.DefBuckets with five more below 5ms. Jobs that
// take nanoseconds all fall into the first bucket, jobs that take minutes
// into the last (+Inf). A nil option is ignored.
//
// NewObserver panics if pool is empty or not valid UTF-8.
func NewObserver(pool string, opts ...ObserverOption) *Observer {
	checkName("NewObserver", "pool", pool)
	c := observerConfig{wait: defaultBuckets, run: defaultBuckets}
	for _, o := range opts {
		if o != nil {
			o.applyObserver(&c)
		}
	}
	labels := prometheus.Labels{"pool": pool}
	return &Observer{
		wait: newHistogram(prometheus.NewDesc("crew_pool_job_wait_seconds",
			"Time jobs waited in the queue, until a worker took them or they left it without running.",
			nil, labels), c.wait),
		run: newHistogram(prometheus.NewDesc("crew_pool_job_run_seconds",
			"Run time of the jobs that ran, from when their guards let them start.",
			nil, labels), c.run),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "crew_pool_refusals_total",
			Help:        "Jobs refused, by what refused them (guard) and when (stage: submit or start).",
			ConstLabels: labels,
		}, []string{"guard", "stage"}),
	}
}

// Observer returns the crew.Observer to pass to crew.WithObserver. Its
// callbacks update o's series and allocate nothing; they never wait, but
// for a short lock the first time a guard name refuses at a stage, to
// create its series. Every call returns an equivalent value.
func (o *Observer) Observer() crew.Observer {
	return crew.Observer{JobDone: o.jobDone, Refused: o.refused}
}

// Describe implements prometheus.Collector.
func (o *Observer) Describe(ch chan<- *prometheus.Desc) {
	ch <- o.wait.desc
	ch <- o.run.desc
	o.refusals.Describe(ch)
}

// Collect implements prometheus.Collector.
func (o *Observer) Collect(ch chan<- prometheus.Metric) {
	ch <- o.wait.metric()
	ch <- o.run.metric()
	o.refusals.Collect(ch)
}

// ObserverOption configures NewObserver.
type ObserverOption interface {
	applyObserver(*observerConfig)
}

// WithWaitBuckets sets the upper bounds, in seconds, of the queue-wait
// histogram's buckets (crew_pool_job_wait_seconds); +Inf is implied.
// WithWaitBuckets panics if buckets is empty, holds a NaN, or is not
// strictly increasing. It copies the slice.
func WithWaitBuckets(buckets ...float64) ObserverOption {
	b := checkBuckets("WithWaitBuckets", buckets)
	return observerOption(func(c *observerConfig) { c.wait = b })
}

// WithRunBuckets sets the upper bounds, in seconds, of the run-time
// histogram's buckets (crew_pool_job_run_seconds); +Inf is implied.
// WithRunBuckets panics if buckets is empty, holds a NaN, or is not
// strictly increasing. It copies the slice.
func WithRunBuckets(buckets ...float64) ObserverOption {
	b := checkBuckets("WithRunBuckets", buckets)
	return observerOption(func(c *observerConfig) { c.run = b })
}

// jobDone is the crew.Observer's JobDone.
func (o *Observer) jobDone(info crew.JobInfo) {
	st := stripe()
	o.wait.observe(st, info.Wait)
	if info.Ran {
		o.run.observe(st, info.Run)
		return
	}
	// A job that never ran ended with its ctx's error, ErrClosed, or a
	// refusal; only refusals are counted here (Stats counts the rest as
	// Canceled).
	var rej *crew.RejectedError
	if errors.As(info.Err, &rej) {
		o.counter(&o.atStart, rej.Guard, "start").Inc()
	}
}

// refused is the crew.Observer's Refused.
func (o *Observer) refused(guard string, _ error) {
	o.counter(&o.atSubmit, guard, "submit").Inc()
}

// counter returns the refusal counter for guard at stage, caching it in
// byGuard.
func (o *Observer) counter(byGuard *sync.Map, guard, stage string) prometheus.Counter {
	if c, ok := byGuard.Load(guard); ok {
		return c.(prometheus.Counter)
	}
	c, _ := byGuard.LoadOrStore(guard, o.refusals.WithLabelValues(guard, stage))
	return c.(prometheus.Counter)
}

// observerConfig is what the ObserverOptions set.
type observerConfig struct {
	wait, run []float64
}

// observerOption is every ObserverOption.
type observerOption func(*observerConfig)

func (o observerOption) applyObserver(c *observerConfig) { o(c) }

// defaultBuckets are the histograms' bounds unless an option sets others
// (see NewObserver). Shared by every Observer, which only read them.
var defaultBuckets = []float64{
	.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10,
}

// checkBuckets returns a copy of buckets, or panics naming opt if they are
// not usable bucket bounds.
func checkBuckets(opt string, buckets []float64) []float64 {
	if len(buckets) == 0 {
		panic(fmt.Sprintf("crewprom: %s: no buckets", opt))
	}
	for i, b := range buckets {
		switch {
		case math.IsNaN(b):
			panic(fmt.Sprintf("crewprom: %s: bucket %d is NaN", opt, i))
		case i > 0 && b <= buckets[i-1]:
			panic(fmt.Sprintf("crewprom: %s: buckets not strictly increasing (%g after %g)", opt, b, buckets[i-1]))
		}
	}
	return append([]float64(nil), buckets...)
}
