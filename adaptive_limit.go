package crew

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/crew-go/crew/internal/limit"
)

// LimitConfig tunes the concurrency limit controller of an adaptive pool
// (see WithLimitControl). The zero value is ready to use. WithLimitControl
// copies it: changing a LimitConfig later changes no pool.
//
// The controller judges the jobs in windows of max(20, 2*limit) jobs. From
// each window's mean latency it learns the no-load latency (the baseline)
// and compares:
//
//   - mean above baseline*(1+Tolerance), or more than MaxErrorRate of the
//     jobs failed with an overload error: the limit falls, in one step, to
//     where latency should return to baseline*(1+Tolerance/2) (it scales by
//     that latency over the observed one; by 0.8 for errors);
//   - mean below baseline*(1+Tolerance/2) and the window filled the limit
//     (so more workers would have had work): the limit grows, doubling until
//     the first fall, then by one per window;
//   - in between: the limit holds.
//
// The baseline is the lowest window mean seen, and it is re-learned: a few
// windows after the start and then every 50 windows the controller lowers
// the limit to 3/4 for one window and takes that window's mean as the new
// baseline. So a baseline learned while overloaded falls (and is probed
// again within a few windows while it keeps falling), and one learned before
// the downstream became slower for good rises; a window that is too slow at
// the lowest limit also becomes the baseline at once, since its latency
// cannot be the pool's own load.
type LimitConfig struct {
	// Tolerance is how much slower than the learned no-load latency the jobs
	// may run before the limit falls, as a fraction: 0.2 (the default) lets
	// latency rise 20%; the limit settles where it rises 10-20%. Larger
	// values tolerate noisier latency and settle at higher concurrency.
	Tolerance float64

	// MaxLatency, when positive, caps the latency tolerated whatever the
	// baseline: the limit also falls when a window's mean exceeds it.
	MaxLatency time.Duration

	// MaxErrorRate is the fraction of a window's jobs that may fail with an
	// overload error before the limit falls (default 0.1).
	MaxErrorRate float64

	// IsOverload reports whether a job's error says the downstream is
	// overloaded (a timeout, a 503). Default: every error. Jobs that fail
	// with context.Canceled or a *PanicError, or with an error IsOverload
	// rejects, are left out of the windows altogether.
	IsOverload func(error) bool

	// Initial is the limit to start from. The default is maxWorkers, so a
	// first burst grows the pool within milliseconds (guarantee 9) and the
	// limit then falls to what the downstream takes; a lower value starts
	// low and doubles its way up, one window of jobs at a time.
	Initial int
}

// WithLimitControl lets an adaptive pool move its concurrency limit between
// max(minWorkers, 1) and maxWorkers from the latency and errors of its jobs,
// so that it adds workers while they add throughput and stops before they
// only add latency at the downstream they share (see LimitConfig for the
// rule). The job's own running time is measured, not its wait in the queue
// or in a Chain's guards. The cost is two clock reads per job and a few
// arithmetic operations under the pool's lock. Read the limit with
// AdaptivePool.Limit or WithOnScale. It applies only to NewAdaptivePool
// (see Option).
//
// It panics if a field of cfg is negative or NaN, Tolerance is infinite or
// MaxErrorRate is over 1.
func WithLimitControl(cfg LimitConfig) Option {
	if !(cfg.Tolerance >= 0 && cfg.Tolerance < math.Inf(1)) || cfg.MaxLatency < 0 ||
		!(cfg.MaxErrorRate >= 0 && cfg.MaxErrorRate <= 1) || cfg.Initial < 0 {
		panic(fmt.Sprintf("crew: WithLimitControl(%+v): a field is negative or NaN, Tolerance infinite, or MaxErrorRate > 1", cfg))
	}
	return option{name: "WithLimitControl", to: forAdaptive, apply: func(c *config) { c.limit = &cfg }}
}

// gradient is the adaptive pool's controller: internal/limit's rule, fed
// with the jobs' errors as LimitConfig judges them.
type gradient struct {
	g          *limit.Gradient
	isOverload func(error) bool
}

func newGradient(cfg LimitConfig, lo, hi int) *gradient {
	lc := limit.Config{Tolerance: cfg.Tolerance, MaxLatency: cfg.MaxLatency, MaxErrorRate: cfg.MaxErrorRate, Initial: cfg.Initial}
	return &gradient{g: limit.New(lc, lo, hi), isOverload: cfg.IsOverload}
}

// judge decides whether a job's error counts in the windows at all, and
// whether it says the downstream is overloaded: cancellations and panics
// are left out, and so are errors IsOverload rejects. It calls IsOverload,
// so the engine calls it with its lock released.
func (g *gradient) judge(err error) (counts, overload bool) {
	if err == nil {
		return true, false
	}
	if _, ok := errors.AsType[*PanicError](err); ok || errors.Is(err, context.Canceled) ||
		(g.isOverload != nil && !g.isOverload(err)) {
		return false, false
	}
	return true, true
}

func (g *gradient) observe(elapsed time.Duration, overload bool, _, busy int) int {
	return g.g.Observe(elapsed, overload, busy)
}

func (g *gradient) bound(lo, hi int) { g.g.Bound(lo, hi) }
