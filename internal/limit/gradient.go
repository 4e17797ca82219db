// Package limit is the concurrency limit controller of crew's adaptive
// pool: a latency-gradient rule over windows of jobs, with slow start and
// a re-learned baseline (crew.LimitConfig documents the rule for users).
package limit

import (
	"math"
	"time"
)

// Config tunes a Gradient. Zero fields take their defaults.
type Config struct {
	Tolerance    float64       // latency rise tolerated over the baseline (default 0.2)
	MaxLatency   time.Duration // when > 0, a cap on the latency tolerated
	MaxErrorRate float64       // share of overload errors tolerated in a window (default 0.1)
	Initial      int           // the first limit, within [lo, hi]; 0: hi
}

// The controller's fixed parameters.
const (
	windowMin   = 20   // jobs in a window, at least; else 2*limit
	probeEvery  = 50   // windows between baseline probes
	probeSoon   = 3    // windows to the next probe while the baseline falls, and to the first
	probeFactor = 0.75 // the limit during a probe, relative
	errBackoff  = 0.8  // the limit after a window with too many errors, relative
)

// Gradient is the controller. It is not safe for concurrent use: the
// pool calls it with its lock held.
type Gradient struct {
	lo, hi     int
	tol        float64
	maxLatency time.Duration
	maxErrRate float64

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

// New returns a Gradient moving the limit within [lo, hi], lo >= 1.
func New(cfg Config, lo, hi int) *Gradient {
	g := &Gradient{
		lo: lo, hi: hi,
		tol:        cfg.Tolerance,
		maxLatency: cfg.MaxLatency,
		maxErrRate: cfg.MaxErrorRate,
		limit:      hi,
		slowStart:  true,
		// The first baseline is learned during the ramp, the likeliest
		// time to learn it under load: check it soon.
		windows: probeEvery - probeSoon,
	}
	if cfg.Initial != 0 {
		g.limit = min(max(cfg.Initial, lo), hi)
	}
	if g.tol == 0 {
		g.tol = 0.2
	}
	if g.maxErrRate == 0 {
		g.maxErrRate = 0.1
	}
	return g
}

// Limit returns the current limit.
func (g *Gradient) Limit() int { return g.limit }

// Bound moves the range the limit stays within to [lo, hi], lo >= 1, and
// clamps the limit (and a probe's saved limit) into it.
func (g *Gradient) Bound(lo, hi int) {
	g.lo, g.hi = lo, hi
	g.limit = min(max(g.limit, lo), hi)
	g.saved = min(max(g.saved, lo), hi)
}

// Observe counts one job that ran: how long it ran, whether it failed
// with an overload error, and how many jobs were running as it finished
// (itself included). It returns the new limit.
func (g *Gradient) Observe(elapsed time.Duration, overload bool, busy int) int {
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
	if g.n >= max(windowMin, satMul(2, g.limit)) {
		g.endWindow()
		g.n, g.ok, g.errs, g.sum, g.peak = 0, 0, 0, 0, 0
	}
	return g.limit
}

// endWindow judges the window just filled and moves the limit.
func (g *Gradient) endWindow() {
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
				g.windows = probeEvery - probeSoon
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
		next := float64(g.limit) * errBackoff
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
	if g.windows >= probeEvery && g.base > 0 {
		g.probing, g.saved, g.windows = true, g.limit, 0
		g.limit = max(int(float64(g.limit)*probeFactor), g.lo)
		if g.limit < g.saved {
			g.skip = g.saved // the jobs started under the old limit
		}
	}
}

// satMul returns a*b for a, b >= 0, or math.MaxInt if that overflows.
func satMul(a, b int) int {
	if a != 0 && b > math.MaxInt/a {
		return math.MaxInt
	}
	return a * b
}

// satAdd returns a+b for a, b >= 0, or math.MaxInt if that overflows.
func satAdd(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}
