package crew

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crew-go/crew/internal/list"
)

// worker is one worker goroutine's handle. The engine's mu guards its
// links, its index and the idle-timeout fields; wake is its own
// synchronization; mu guards cancel.
type worker struct {
	list.Links[worker] // the idle list; the first field, where the list finds it

	wake    chan struct{} // capacity 1: one wake-up per claim
	timer   *time.Timer   // idle timeout (time.AfterFunc), created on first use
	idleAt  int64         // when the worker last parked, with an idle timeout: ns since the engine began
	index   int           // its place in the engine's list of all workers
	armed   bool          // timer running
	expired bool          // woken by the idle timeout, not for work
	retired bool          // gone while its fired timer's callback still waits for mu
	// counts sits between fields written only while parking and retiring,
	// so the writes of another worker's counts share no cache line with it.
	counts workerCounts // the jobs it ran, or dropped as it took them

	mu     sync.Mutex
	cancel context.CancelFunc // cancels the running job's ctx; nil when none

	// ctxs are job ctxs this worker made for submitter ctxs that never
	// end, for reuse by later jobs with the same submitter ctx (see
	// jobContext); made on first use, so a worker that only ever sees
	// context.Background does not carry them. Only the worker's goroutine
	// touches them.
	ctxs    *[ctxCacheSize]*jobContext
	ctxNext int // the slot the next new job ctx takes
}

// hold records the cancel func of the job about to run, and calls it at once
// if the pool already gave up (stop is done).
func (w *worker) hold(cancel context.CancelFunc, stop context.Context) {
	w.mu.Lock()
	w.cancel = cancel
	w.mu.Unlock()
	if stop.Err() != nil {
		cancel()
	}
}

// cancelJob cancels the running job's ctx, if it has its own.
func (w *worker) cancelJob() {
	w.mu.Lock()
	c := w.cancel
	w.mu.Unlock()
	if c != nil {
		c()
	}
}

// release cancels and forgets the finished job's ctx.
func (w *worker) release() {
	w.mu.Lock()
	c := w.cancel
	w.cancel = nil
	w.mu.Unlock()
	if c != nil {
		c()
	}
}

// workerCounts are a worker's own counters of the jobs it finished: each
// worker writes only its own, so that workers do not contend on shared
// counters; Stats adds them up, and a retiring worker adds its own to the
// pool's.
type workerCounts struct {
	completed, failed, canceled, refused atomic.Uint64
}

// count counts one job that left with outcome k, and returns the number
// of jobs this worker counted so far.
func (c *workerCounts) count(k outcome) uint64 {
	switch k {
	case outcomeOK:
		return c.completed.Add(1)
	case outcomeFailed:
		c.failed.Add(1)
		return c.completed.Add(1)
	case outcomeRefused:
		c.refused.Add(1)
	}
	return c.canceled.Add(1)
}

// workerSet is every live worker, for cancelling running jobs when Close
// gives up: O(1) to add and remove (the last one takes the removed one's
// place). The engine's mu guards it.
type workerSet []*worker

func (s *workerSet) add(w *worker) {
	w.index = len(*s)
	*s = append(*s, w)
}

func (s *workerSet) remove(w *worker) {
	last := len(*s) - 1
	moved := (*s)[last]
	(*s)[w.index], moved.index = moved, w.index
	(*s)[last] = nil
	*s = (*s)[:last]
}
