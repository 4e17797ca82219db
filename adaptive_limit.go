package crew

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
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
// AdaptivePool.Limit or WithOnScale. Other constructors ignore it.
//
// It panics if a field of cfg is negative or NaN, Tolerance is infinite or
// MaxErrorRate is over 1.
func WithLimitControl(cfg LimitConfig) Option {
	if !(cfg.Tolerance >= 0 && cfg.Tolerance < math.Inf(1)) || cfg.MaxLatency < 0 ||
		!(cfg.MaxErrorRate >= 0 && cfg.MaxErrorRate <= 1) || cfg.Initial < 0 {
		panic(fmt.Sprintf("crew: WithLimitControl(%+v): a field is negative or NaN, Tolerance infinite, or MaxErrorRate > 1", cfg))
	}
	return optionFunc(func(c *config) { c.adapt.limit = &cfg })
}

// The controller's fixed parameters.
const (
	limitWindowMin   = 20   // jobs in a window, at least; else 2*limit
	limitProbeEvery  = 50   // windows between baseline probes
	limitProbeSoon   = 3    // windows to the next probe while the baseline falls, and to the first
	limitProbeFactor = 0.75 // the limit during a probe, relative
	limitErrBackoff  = 0.8  // the limit after a window with too many errors, relative
)

// gradient is the limit controller: a latency-gradient rule over windows of
// jobs, with slow start and a re-learned baseline (see LimitConfig). It is
// not safe for concurrent use: the engine calls it with mu held.
type gradient struct {
	lo, hi     int
	tol        float64
	maxLatency time.Duration
	maxErrRate float64
	isOverload func(error) bool

	limit     int
	slowStart bool          // doubling until the first fall
	base      time.Duration // learned no-load latency; 0 until the first window

	// The current window.
	n, ok, errs int
	sum         time.Duration // latency of the ok jobs
	peak        int           // most jobs running at once

	windows int  // since the last probe
	probing bool // the current window measures the baseline
	skip    int  // jobs to leave out before the probe window (started before it)
	saved   int  // the limit to restore after the probe
}

// initialLimit is LimitConfig.Initial within [lo, hi]; 0 means hi.
func initialLimit(initial, lo, hi int) int {
	if initial == 0 {
		return hi
	}
	return min(max(initial, lo), hi)
}

func newGradient(cfg LimitConfig, lo, hi int) *gradient {
	g := &gradient{
		lo: lo, hi: hi,
		tol:        cfg.Tolerance,
		maxLatency: cfg.MaxLatency,
		maxErrRate: cfg.MaxErrorRate,
		isOverload: cfg.IsOverload,
		limit:      initialLimit(cfg.Initial, lo, hi),
		slowStart:  true,
		// The first baseline is learned during the ramp, the likeliest
		// time to learn it under load: check it soon.
		windows: limitProbeEvery - limitProbeSoon,
	}
	if g.tol == 0 {
		g.tol = 0.2
	}
	if g.maxErrRate == 0 {
		g.maxErrRate = 0.1
	}
	return g
}

// judge decides whether a job's error counts in the windows at all, and
// whether it says the downstream is overloaded. It calls IsOverload, so the
// engine calls it with its lock released.
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

// observe counts one job that judge counted: how long it ran, whether it
// was an overload error, and how many jobs were running as it finished.
func (g *gradient) observe(elapsed time.Duration, overload bool, _, busy int) int {
	if g.skip > 0 {
		g.skip--
		return g.limit
	}
	g.n++
	g.peak = max(g.peak, busy)
	if overload {
		g.errs++
	} else {
		g.ok++
		g.sum += elapsed
	}
	if g.n >= max(limitWindowMin, satMul(2, g.limit)) {
		g.endWindow()
		g.n, g.ok, g.errs, g.sum, g.peak = 0, 0, 0, 0, 0
	}
	return g.limit
}

// endWindow judges the window just filled and moves the limit.
func (g *gradient) endWindow() {
	var rtt time.Duration
	if g.ok > 0 {
		rtt = g.sum / time.Duration(g.ok)
	}
	if g.probing {
		g.probing, g.limit, g.windows = false, g.saved, 0
		if rtt > 0 {
			if rtt < g.base-g.base/20 {
				// The baseline was stale by more than noise: it was learned
				// under load. Probe again soon, until it stops falling.
				g.windows = limitProbeEvery - limitProbeSoon
			}
			g.base = rtt
		}
		return
	}
	if rtt > 0 && (g.base == 0 || rtt < g.base) {
		g.base = rtt
	}

	// The latency band: grow below target, fall above allowed.
	allowed := float64(g.base) * (1 + g.tol)
	stale := g.limit == g.lo && rtt > 0 && float64(rtt) > allowed
	target := float64(g.base) * (1 + g.tol/2)
	if g.maxLatency > 0 && float64(g.maxLatency) < allowed {
		target *= float64(g.maxLatency) / allowed
		allowed = float64(g.maxLatency)
	}
	switch {
	case stale:
		// Too slow at the lowest limit allowed: not the pool's own load,
		// the downstream got slower. Re-learn rather than starve at lo.
		g.base = rtt
	case float64(g.errs) > g.maxErrRate*float64(g.n) || (rtt > 0 && float64(rtt) > allowed):
		next := float64(g.limit) * limitErrBackoff
		if float64(g.errs) <= g.maxErrRate*float64(g.n) {
			next = float64(g.limit) // latency alone
		}
		if rtt > 0 && float64(rtt) > allowed {
			next = min(next, float64(g.limit)*target/float64(rtt))
		}
		g.limit = max(min(int(next), g.limit-1), g.lo)
		g.slowStart = false
	case rtt > 0 && float64(rtt) < target && g.peak >= g.limit:
		if g.slowStart {
			g.limit = satMul(g.limit, 2)
		} else {
			g.limit = satAdd(g.limit, 1)
		}
		g.limit = min(g.limit, g.hi)
	}

	g.windows++
	if g.windows >= limitProbeEvery && g.base > 0 {
		g.probing, g.saved, g.windows = true, g.limit, 0
		g.limit = max(int(float64(g.limit)*limitProbeFactor), g.lo)
		if g.limit < g.saved {
			g.skip = g.saved // the jobs started under the old limit
		}
	}
}
