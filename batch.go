package crew

import (
	"context"
	"fmt"
	"time"

	"github.com/crew-go/crew/internal/list"
	"github.com/crew-go/crew/internal/ring"
)

// BatchFunc handles one batch: it gets the items in the order they were
// submitted and returns one result per item, in the same order. A nil error
// gives every item its result. An ItemErrors error (found with errors.As,
// so it may be wrapped) gives each item its own error or, where that is
// nil, its result. Any other error, or a panic, fails
// every item of the batch with it. The ctx is the batcher's, not a caller's:
// it ends only when the per-batch timeout passes or Close gives up.
//
// A BatchFunc never gets an empty slice, nor more items than the batch size.
// It must not keep the items slice after it returns: the Batcher reuses it
// for a later batch. It may return it as its results (an []In is an []Out
// when the types match), as the Batcher reads them first.
type BatchFunc[In, Out any] func(ctx context.Context, items []In) ([]Out, error)

// ItemErrors is the error a BatchFunc returns when some items failed and
// others did not: one error or nil per item, in the items' order. Items with
// a nil error take their result from the []Out the BatchFunc returned (which
// must then have one result per item). An ItemErrors of the wrong length
// fails every item of the batch with an error matching ErrResultCount.
//
// ItemErrors is a plain slice; a BatchFunc owns the one it returns.
type ItemErrors []error

// Error counts the failed items and shows the first failure.
func (e ItemErrors) Error() string {
	n, first := 0, error(nil)
	for _, err := range e {
		if err != nil {
			if n == 0 {
				first = err
			}
			n++
		}
	}
	if first == nil {
		return fmt.Sprintf("crew: 0 of %d items failed", len(e))
	}
	return fmt.Sprintf("crew: %d of %d items failed; first: %v", n, len(e), first)
}

// Unwrap returns the non-nil item errors, so errors.Is and errors.As look
// inside.
func (e ItemErrors) Unwrap() []error {
	var errs []error
	for _, err := range e {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// Default batch settings.
const (
	// DefaultBatchSize is the batch size when WithBatchSize is not given:
	// bulk calls (database inserts, metric pushes) get most of their saving
	// by about 100 items.
	DefaultBatchSize = 100
	// DefaultBatchWait is the batch wait when WithBatchWait is not given. It
	// is the latency a lone item pays under light load, so it is kept near
	// one network round trip, not the seconds some batchers default to.
	DefaultBatchWait = 5 * time.Millisecond
)

// Batcher gathers items submitted one by one into batches and hands each
// batch to one BatchFunc call. Every item gets its own Future with its own
// result or error.
//
// A batch is cut when it holds the batch size (at once), when its oldest item
// has waited the batch wait (measured from the first item, not reset by later
// ones), on Flush and on Close. If the batches running at once already reach
// the limit (WithBatchConcurrency, default 1), cut batches go out back to
// back as soon as one finishes.
//
// A Batcher is safe for concurrent use. It holds no goroutine while idle: a
// goroutine runs the batches while there are batches to run (at most one per
// running batch), and one timer watches the oldest waiting item. Close
// synchronizes before its return: every accepted item's Future is resolved
// by then.
//
// Costs: an item whose ctx cannot end (context.Background) makes no
// allocation of its own; a ctx that can end adds its watcher (see Submit).
// Futures are allocated in blocks of about 1 KB (32 or fewer, by the
// result's size); the price is that a Future a caller keeps keeps its
// block reachable, with the results and errors of the other Futures in it,
// and that the Batcher keeps its current block, so the results of up to 31
// recent items stay reachable while it lives. Items' values are not kept
// once their batch has run. The pending items are values in a ring that
// grows to at most twice the most items ever pending at once and is kept,
// as are the batches' slices. Submit holds the Batcher's lock for O(1)
// work; cutting a batch of n items is O(n). The benchmarks module measures
// it against a naive channel-and-ticker batcher.
//
// The Batcher shares its lifecycle with the pools (intake, a bounded line
// of blocked Submits, Close and its giving up, Stats), and an Observer sees
// each of its items; but its items are values, not Jobs, so it is not a
// Pool: use its Do for what Do does for a pool, and WithBatchPool to put a
// Chain's guards (per batch) in front of its BatchFunc.
type Batcher[In, Out any] struct {
	lifecycle[pendingItem[In, Out]] // intake, blocked Submits, Close, counters; its mu guards all below

	fn          BatchFunc[In, Out]
	size        int
	wait        time.Duration
	maxRunning  int
	timeout     time.Duration
	runOn       Pool[struct{}]
	cap         int
	nonBlocking bool
	obs         *Observer          // WithObserver; nil: none
	epoch       time.Time          // item ages are measured from here
	ctx         context.Context    // every batch runs under it; cancelled when Close gives up
	cancel      context.CancelFunc // cancels ctx

	pending  ring.Ring[pendingItem[In, Out]] // submitted, not cut yet, oldest first
	watched  int                             // pending items with a ctx watcher (stop set)
	stamp    int64                           // the last arrival time read (enqueueLocked)
	running  list.List[batch[In, Out]]       // batches handed to fn or to runOn
	nextSeq  uint64                          // seq of the next accepted item
	flushSeq uint64                          // items with seq < flushSeq are due (Flush)
	timer    *time.Timer                     // fires when the oldest pending item is due
	armedAt  int64                           // the deadline timer is set for; -1 when stopped
	// Callbacks Close must wait for, so that none outlives it: timerOut
	// counts the timer's armings that have neither been stopped nor run
	// onTimer yet, watchOut the ctx watchers that have neither been stopped
	// nor run leave yet.
	timerOut, watchOut int

	closeSet  bool           // closeErr is final
	closeErr  error          // the first Close's result
	closeWait []*Future[Out] // items Close flushes, for its error

	freeBatches list.List[batch[In, Out]] // batches for reuse
	futs        []Future[Out]             // the current block of Futures
	nextFut     int                       // the next free one in futs
	futureBlock int                       // Futures per block
	nextBatchID uint32                    // the id of the next batch cut

	busy int // items in running batches
	bs   BatchStats
}

// NewBatcher returns a Batcher that hands batches of items to fn.
//
// Options: WithBatchSize (default DefaultBatchSize), WithBatchWait (default
// DefaultBatchWait), WithBatchConcurrency (default 1), WithBatchTimeout
// (default none), WithBatchPool (default: the Batcher's own goroutines),
// WithQueueSize (bound on pending items, default DefaultQueueSize, raised to
// the batch size if smaller) and WithNonBlocking. A pool Option that does
// not apply to a Batcher makes it panic (WithAging and WithIdleTimeout are
// ignored), as the pool constructors do.
//
// NewBatcher panics if fn is nil. Like the pool constructors, it starts no
// goroutine.
func NewBatcher[In, Out any](fn BatchFunc[In, Out], opts ...BatchOption) *Batcher[In, Out] {
	if fn == nil {
		panic("crew: NewBatcher: the BatchFunc is nil")
	}
	c := batchConfig{
		pool:        config{queueSize: DefaultQueueSize},
		size:        DefaultBatchSize,
		wait:        DefaultBatchWait,
		concurrency: 1,
	}
	for _, o := range opts {
		if o != nil {
			o.applyBatch(&c)
		}
	}
	b := &Batcher[In, Out]{
		fn:          fn,
		size:        c.size,
		wait:        c.wait,
		maxRunning:  c.concurrency,
		timeout:     c.timeout,
		runOn:       c.runOn,
		cap:         max(c.pool.queueSize, c.size),
		nonBlocking: c.pool.nonBlocking,
		obs:         c.pool.observer,
		epoch:       time.Now(),
		armedAt:     -1,
		nextSeq:     1,
		futureBlock: futureBlock[Out](),
		nextBatchID: firstBatchID,
	}
	b.init(b)
	// The marker lets Close tell a call from inside a BatchFunc, which must
	// not wait for its own batch.
	b.ctx, b.cancel = context.WithCancel(context.WithValue(context.Background(), nestedKey{&b.mark}, true))
	return b
}

// Submit adds item to the pending batch and returns its Future, which
// resolves once the item's batch has run (or the item left it). When the
// pending items reach the bound (WithQueueSize) Submit waits for room until
// ctx ends, or with WithNonBlocking returns a *RejectedError matching
// ErrQueueFull at once. After Close it returns ErrClosed. A nil ctx, or one
// that has ended, is refused with an error.
//
// ctx does not reach the BatchFunc. If it ends before the item's batch is
// cut, the item leaves the batch and its Future resolves with ctx.Err() at
// once; after that, it ends only the caller's own Wait.
//
// Submit is safe for concurrent use. It allocates nothing but, once in
// about 31 calls, a block of Futures (see Batcher) and, if ctx can be
// cancelled, a watcher (context.AfterFunc); a Submit that waits for room
// also allocates its waiter. It holds the Batcher's lock for a few slice
// operations, and reads the clock only for an item that may become the
// oldest pending one. It never runs the BatchFunc itself.
func (b *Batcher[In, Out]) Submit(ctx context.Context, item In) (*Future[Out], error) {
	f, err := b.submit(ctx, item)
	if err != nil && b.obs != nil {
		b.obs.refused(err)
	}
	return f, err
}

// submit is Submit but for telling the Observer.
func (b *Batcher[In, Out]) submit(ctx context.Context, item In) (*Future[Out], error) {
	if ctx == nil {
		b.mu.Lock()
		return nil, b.rejectUnlock(errNilContext)
	}
	b.mu.Lock()
	if err := b.admitLocked(ctx); err != nil {
		return nil, b.rejectUnlock(err)
	}
	f := b.newFutureLocked()
	if b.pending.Len() < b.cap {
		now := b.enqueueLocked(ctx, item, f, -1)
		if b.pending.Len() == 1 || (b.pending.Len() >= b.size && b.running.Len() < b.maxRunning) {
			// A new head, or a full batch and a free slot. Otherwise
			// nothing changed: after every pump the head is not due or no
			// slot is free.
			if now < 0 {
				now = b.now()
			}
			b.pumpLocked(now)
		}
		b.mu.Unlock()
		return f, nil
	}
	if b.nonBlocking {
		return nil, b.rejectUnlock(b.queueFull(b.waiters.Len()))
	}
	if err := b.waitForRoom(ctx, pendingItem[In, Out]{in: item, fut: f}, nil); err != nil {
		return nil, err
	}
	return f, nil
}

// Do submits item and waits for its result: Submit and then Wait, with the
// same ctx, as Do does for a pool. If ctx ends before the item's batch is
// cut, the item leaves and Do returns ctx.Err(); after that, ctx ends only
// the wait.
func (b *Batcher[In, Out]) Do(ctx context.Context, item In) (Out, error) {
	f, err := b.Submit(ctx, item)
	if err != nil {
		var zero Out
		return zero, err
	}
	return f.Wait(ctx)
}

// Flush cuts the pending items into batches, as many as the batch size
// requires, and waits until they and the batches already running have run.
// It returns nil if all the items it waited for (those not resolved when it
// was called) succeeded, else errors.Join of their errors, a batch-wide
// error once per batch, so errors.Is and errors.As find each of them. Items
// whose own caller's ctx ended are left out. If ctx ends first, Flush
// returns ctx.Err() and the batches still go out.
//
// Flush is safe for concurrent use; it allocates a list of the items in
// flight, so it costs O(pending + running items).
func (b *Batcher[In, Out]) Flush(ctx context.Context) error {
	if ctx == nil {
		return errNilContextFlush
	}
	b.mu.Lock()
	futs := b.inFlightLocked()
	b.flushSeq = b.nextSeq
	b.pumpLocked(b.now())
	b.mu.Unlock()
	for _, f := range futs {
		select {
		case <-f.Done():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return joinItemErrors(futs)
}

// Close stops intake at once (later Submits return ErrClosed), cuts the
// pending items into batches, waits for every batch to run and returns nil,
// or errors.Join of the errors of the items it waited for (as Flush). If ctx
// ends first, it cancels the ctx of the running batches, resolves the items
// not handed to the BatchFunc yet with ErrClosed, waits for the running
// batches to return and returns ctx.Err().
//
// Close is idempotent and safe from any goroutine: every call returns once
// the Batcher is done, with the first call's result. When Close returns,
// every accepted item's Future is resolved and no goroutine of the Batcher
// remains. Close does not close the pool given to WithBatchPool. Items
// already resolved when Close is called do not count in its error.
//
// Called from a BatchFunc with its batch's ctx (or one derived from it),
// Close stops intake and returns an error at once instead of waiting for
// the caller's own batch; the Batcher drains once that batch returns. With
// another ctx such a call waits for itself, and so does a Flush called
// from a BatchFunc while it waits for its own batch.
func (b *Batcher[In, Out]) Close(ctx context.Context) error {
	if ctx == nil {
		return errNilContextClose
	}
	if ctx.Value(nestedKey{&b.mark}) != nil { // from a BatchFunc: waiting would wait for its own batch
		_ = b.lifecycle.close(ctx, true)
		return errCloseFromBatch
	}
	err := b.lifecycle.close(ctx, false)
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closeSet {
		b.closeSet = true
		if err == nil {
			err = joinItemErrors(b.closeWait)
		}
		b.closeErr, b.closeWait = err, nil
	}
	return b.closeErr
}

// Stats returns a snapshot of the Batcher's counters, counting items, not
// batches (safe for concurrent use; one lock): Queued is the items waiting to be cut, Busy the items in running
// batches, Workers the batches running (one goroutine each), Completed the
// items a BatchFunc call returned (or panicked) for, Failed those of them
// with an error, Canceled the items that never reached a BatchFunc.
func (b *Batcher[In, Out]) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.counters()
	s.Workers, s.Busy, s.Queued = b.running.Len(), b.busy, b.pending.Len()
	return s
}

// BatchStats is a snapshot of a Batcher's batch counters, for operators: how
// full the batches are and why they were cut. The counters only grow. It is
// a snapshot the caller owns.
type BatchStats struct {
	Batches  uint64 // batches cut
	Items    uint64 // items in those batches
	Full     uint64 // batches of exactly the batch size
	BySize   uint64 // cut because they reached the batch size
	ByWait   uint64 // cut because their oldest item reached the batch wait
	ByManual uint64 // cut by Flush
	ByClose  uint64 // cut by Close
	// Sizes counts batches by size in powers of two: Sizes[i] counts the
	// batches of 2^i to 2^(i+1)-1 items; the last bucket also takes larger.
	Sizes [16]uint64
}

// BatchStats returns a snapshot of the batch counters. It is safe for
// concurrent use and costs one lock.
func (b *Batcher[In, Out]) BatchStats() BatchStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bs
}
