package crew

import (
	"context"
	"sync"
	"time"
	"unsafe"
)

// worker is one worker goroutine's handle. The engine's mu guards the list
// links and the idle-timeout fields; wake is its own synchronization; mu
// guards cancel.
type worker struct {
	wake       chan struct{} // capacity 1: one wake-up per claim
	timer      *time.Timer   // idle timeout (time.AfterFunc), created on first use
	armed      bool          // timer running
	expired    bool          // woken by the idle timeout, not for work
	retired    bool          // gone while its fired timer's callback still waits for mu
	idleAt     time.Time     // when the worker last parked, with an idle timeout
	prev, next *worker       // idle list
	aprev      *worker       // all-workers list
	anext      *worker

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

// ctxCacheSize is how many job ctxs a worker keeps for reuse.
const ctxCacheSize = 8

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

// workerList is an intrusive list of workers. The idle list uses prev/next
// and is LIFO, so the most recently busy worker (warm caches) runs next and
// the longest idle retires first; the all list uses aprev/anext.
type workerList struct {
	head *worker
	n    int
}

func (l *workerList) push(w *worker) {
	w.prev, w.next = nil, l.head
	if l.head != nil {
		l.head.prev = w
	}
	l.head = w
	l.n++
}

func (l *workerList) pop() *worker {
	w := l.head
	if w != nil {
		l.remove(w)
	}
	return w
}

func (l *workerList) has(w *worker) bool { return w.prev != nil || l.head == w }

func (l *workerList) remove(w *worker) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		l.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	}
	w.prev, w.next = nil, nil
	l.n--
}

func (l *workerList) pushAll(w *worker) {
	w.aprev, w.anext = nil, l.head
	if l.head != nil {
		l.head.aprev = w
	}
	l.head = w
	l.n++
}

func (l *workerList) removeAll(w *worker) {
	if w.aprev != nil {
		w.aprev.anext = w.anext
	} else {
		l.head = w.anext
	}
	if w.anext != nil {
		w.anext.aprev = w.aprev
	}
	w.aprev, w.anext = nil, nil
	l.n--
}

// waiterList is the FIFO line of Submits blocked on a full queue: their
// tasks, linked through prev and next (a waiting task is not queued), each
// answered on its ready channel with nil once queued, or the reason it will
// not be. The engine's mu guards it.
type waiterList[T any] struct {
	head, tail *task[T]
	n          int
}

func (l *waiterList[T]) push(w *task[T]) {
	w.x.waiting = true
	w.prev, w.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = w
	} else {
		l.head = w
	}
	l.tail = w
	l.n++
}

func (l *waiterList[T]) pop() *task[T] {
	w := l.head
	l.remove(w)
	return w
}

// remove unlinks w and reports whether it was still waiting. The links
// alone cannot tell: once answered, w's links are the queue's.
func (l *waiterList[T]) remove(w *task[T]) bool {
	if w.x == nil || !w.x.waiting {
		return false
	}
	w.x.waiting = false
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		l.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		l.tail = w.prev
	}
	w.prev, w.next = nil, nil
	l.n--
	return true
}

// jobContext is the ctx a job runs with. For a submitter's ctx that is
// Background or TODO it is the engine's shared bgCtx; otherwise the worker
// makes one as the job starts, so a queued job does not hold it. Its
// cancellation comes from Context: the pool's stop ctx when the submitter's
// ctx can never end (values then come from the submitter's ctx), or a
// per-job ctx derived from the submitter's. It is never recycled, since a
// job may keep its ctx after returning.
type jobContext struct {
	context.Context
	values context.Context // the submitter's ctx when Context is the stop ctx; else nil
	owner  any             // the engine running the job
}

// nestedKey finds, in a Submit's ctx, whether the caller is a job of the
// same pool: such a Submit must not wait for room it would itself free.
type nestedKey struct{ owner any }

func (c *jobContext) Value(key any) any {
	if k, ok := key.(nestedKey); ok && k.owner == c.owner {
		return true
	}
	if c.values != nil {
		if v := c.values.Value(key); v != nil {
			return v
		}
	}
	return c.Context.Value(key)
}

func (c *jobContext) Deadline() (time.Time, bool) {
	if c.values != nil {
		return c.values.Deadline()
	}
	return c.Context.Deadline()
}

// jobContext returns the ctx t runs with on worker w.
//
// For a submitter's ctx that never ends the job ctx is immutable (the pool's
// stop ctx, the submitter's values, the owner), so jobs submitted with the
// same such ctx can share one: the worker keeps the last ctxCacheSize it
// made and reuses one whose submitter ctx is the very same value. A
// server's fixed ctxs (a priority level, a background tier) then cost no
// allocation per job. The cost: a worker keeps up to ctxCacheSize such
// submitter ctxs, and their values, reachable until it retires or meets
// newer ones.
func (e *engine[T]) jobContext(w *worker, t *task[T]) context.Context {
	if t.ctx == context.Background() || t.ctx == context.TODO() {
		return &e.bgCtx // ready since newEngine, and shared: never written again
	}
	if t.ctx.Done() == nil {
		if w.ctxs == nil {
			w.ctxs = new([ctxCacheSize]*jobContext)
		}
		for _, jc := range w.ctxs {
			if jc != nil && sameCtx(jc.values, t.ctx) {
				return jc
			}
		}
		jc := &jobContext{Context: e.stopCtx, values: t.ctx, owner: e}
		w.ctxs[w.ctxNext] = jc
		w.ctxNext = (w.ctxNext + 1) % ctxCacheSize
		return jc
	}
	ctx, cancel := context.WithCancel(t.ctx)
	w.hold(cancel, e.stopCtx)
	return &jobContext{Context: ctx, owner: e}
}

// sameCtx reports whether a and b are the very same ctx: the same dynamic
// type and the same data word. Unlike ==, it never panics (a ctx type may
// not be comparable) and never calls into the ctx; two equal ctx values in
// different boxes count as different, which costs only a cache miss.
func sameCtx(a, b context.Context) bool {
	type iface struct{ typ, data unsafe.Pointer }
	return *(*iface)(unsafe.Pointer(&a)) == *(*iface)(unsafe.Pointer(&b))
}
