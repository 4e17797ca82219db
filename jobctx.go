package crew

import (
	"context"
	"time"
	"unsafe"
)

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
	owner  *ownerMark      // the engine running the job
}

// nestedKey finds, in a ctx, whether it is a job ctx of an owner (an
// engine, or a Batcher's batch ctx): a Submit with it must not wait for
// room it would itself free, nor a Close for itself. It holds a pointer
// alone, so making it an interface value allocates nothing.
type nestedKey struct{ owner *ownerMark }

// ownerMark marks a lifecycle's owner: its address tells owners apart.
type ownerMark struct{ _ byte }

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

// ctxCacheSize is how many job ctxs a worker keeps for reuse.
const ctxCacheSize = 8

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
	if isBackground(t.ctx) {
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
		jc := &jobContext{Context: e.stopCtx, values: t.ctx, owner: &e.mark}
		w.ctxs[w.ctxNext] = jc
		w.ctxNext = (w.ctxNext + 1) % ctxCacheSize
		return jc
	}
	ctx, cancel := context.WithCancel(t.ctx)
	w.hold(cancel, e.stopCtx)
	return &jobContext{Context: ctx, owner: &e.mark}
}

// isBackground reports whether ctx is context.Background or TODO: no
// values, no deadline, never ends.
func isBackground(ctx context.Context) bool {
	return ctx == context.Background() || ctx == context.TODO()
}

// sameCtx reports whether a and b are the very same ctx: the same dynamic
// type and the same data word. Unlike ==, it never panics (a ctx type may
// not be comparable) and never calls into the ctx; two equal ctx values in
// different boxes count as different, which costs only a cache miss.
func sameCtx(a, b context.Context) bool {
	type iface struct{ typ, data unsafe.Pointer }
	return *(*iface)(unsafe.Pointer(&a)) == *(*iface)(unsafe.Pointer(&b))
}
