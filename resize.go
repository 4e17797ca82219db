package crew

import "fmt"

// Resize sets the most jobs the pool runs at once to n, at run time and
// under load. Growing starts workers for queued jobs at once; shrinking
// retires idle workers at once and busy ones as they finish their jobs:
// no running job is cancelled, so the pool may run more than n jobs for
// as long as those take. It is safe for concurrent use, also after Close
// (where it changes nothing that matters).
//
// Resize panics if n < 1.
func (p *WorkerPool[T]) Resize(n int) {
	if n < 1 {
		panic(fmt.Sprintf("crew: WorkerPool.Resize(%d): workers must be >= 1", n))
	}
	p.e.resize(0, n)
}

// Resize sets the most jobs the pool runs at once to n; see
// WorkerPool.Resize.
//
// Resize panics if n < 1.
func (p *PriorityPool[T]) Resize(n int) {
	if n < 1 {
		panic(fmt.Sprintf("crew: PriorityPool.Resize(%d): workers must be >= 1", n))
	}
	p.e.resize(0, n)
}

// Resize moves the pool's bounds at run time: it keeps at least
// minWorkers alive (starting them at once) and at most maxWorkers (workers
// above it retire as WorkerPool.Resize says, never cancelling a running
// job). Under WithLimitControl the controller's limit is clamped into the
// new bounds and moves on from there.
//
// Resize panics if minWorkers < 0, minWorkers > MaxMinWorkers,
// maxWorkers < 1 or maxWorkers < minWorkers.
func (p *AdaptivePool[T]) Resize(minWorkers, maxWorkers int) {
	checkBounds("AdaptivePool.Resize", minWorkers, maxWorkers)
	p.e.resize(minWorkers, maxWorkers)
}

// resize moves the worker policy's bounds to [lo, hi]; the limit follows:
// hi without a controller, else the controller's limit clamped within the
// bounds. Workers below lo start at once.
func (e *engine[T]) resize(lo, hi int) {
	e.mu.Lock()
	e.min, e.max = lo, hi
	limit := hi
	if e.ctl != nil {
		if b, ok := e.ctl.(boundedController); ok {
			b.bound(max(lo, 1), hi)
		}
		limit = e.limit
	}
	e.scaleGen++
	if !e.setLimitLocked(limit) { // clamps to the new bounds; wakes or starts workers
		e.dispatchLocked()
		e.grantLocked()
	}
	for e.state == stateOpen && e.workers < e.min {
		e.startWorkerLocked()
	}
	e.mu.Unlock()
	e.notifyScale()
}
