package crew

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/crew-go/crew/internal/list"
)

// lifecycle is what every pool and the Batcher share, written once:
// intake (open, closing, done), the line of Submits blocked for room,
// Close and its giving up, and the counters behind Stats. Its owner (the
// engine, or the Batcher) embeds it, plugs in what differs through owner,
// and holds mu for all of it. E is what a blocked Submit brings: the
// engine's task, or the Batcher's item.
//
// Ownership: mu guards the state, the line and settling; closed mirrors
// the state for readers without mu; the counters are atomic, so the
// engine's workers count without mu. Nothing here runs user code.
type lifecycle[E any] struct {
	mu   sync.Mutex
	own  owner[E]
	mark ownerMark // the owner's mark in its jobs' ctxs (nestedKey)

	state    int   // stateOpen, stateClosing (draining), stateDone
	hardStop bool  // Close gave up
	closeErr error // what Close returns, once the pool is done
	drained  chan struct{}

	waiters  list.List[waiter[E]] // Submits blocked for room, first come first served
	waitPool sync.Pool            // *waiter[E] for reuse
	// settling counts what is on its way outside mu that Close must wait
	// for: outcomes being delivered, and callbacks (ctx watchers, timers)
	// that fired and wait for mu.
	settling int

	// Read on every Submit or job and written rarely: on a cache line of
	// their own.
	_        [64]byte
	closed   atomic.Bool  // state != stateOpen, for readers without mu
	nwaiting atomic.Int32 // waiters.Len(), for readers without mu
	// The counters. Submitters write the first two and workers the rest,
	// so they sit on cache lines of their own: a submitter's add does not
	// take the line a worker is writing.
	_                                    [56]byte
	submitted, rejected                  atomic.Uint64
	_                                    [48]byte
	completed, failed, canceled, refused atomic.Uint64
	_                                    [32]byte
	drain                                drainMeter // for a full queue's RetryAfter
}

const (
	stateOpen = iota
	stateClosing
	stateDone
)

// owner is what a lifecycle's owner plugs in. Every method requires mu
// held and runs no user code.
type owner[E any] interface {
	// reserveLocked takes room for one more element, and reports false if
	// there is none.
	reserveLocked() bool
	// acceptLocked queues e, the element of a blocked Submit let in.
	acceptLocked(ctx context.Context, e E)
	// closingLocked is told that Close began (intake has stopped).
	closingLocked()
	// idleLocked reports that nothing is queued or running: Close has
	// nothing to give up.
	idleLocked() bool
	// doneLocked reports that nothing is queued, running or on its way:
	// the pool may end.
	doneLocked() bool
	// giveUpLocked drops what is queued and cancels what runs, as Close
	// gives up; what it returns runs after mu is released.
	giveUpLocked() (after func())
	// endLocked is told that the pool is done, to let go of what it kept.
	endLocked()
}

// waiter is a Submit blocked for room: what it brings, and the channel
// (capacity 1) on which it gets its one answer: nil once queued, or why
// it will not be.
type waiter[E any] struct {
	list.Links[waiter[E]]
	ctx   context.Context
	elem  E
	ready chan error
}

func (l *lifecycle[E]) init(own owner[E]) {
	l.own = own
	l.drained = make(chan struct{})
	l.drain = newDrainMeter()
}

// admitLocked refuses a Submit that cannot be accepted whatever the room.
// Requires mu held.
func (l *lifecycle[E]) admitLocked(ctx context.Context) error {
	if l.state != stateOpen {
		return ErrClosed
	}
	return ctx.Err()
}

// rejectUnlock counts a refused Submit and releases mu.
func (l *lifecycle[E]) rejectUnlock(err error) error {
	l.rejected.Add(1)
	l.mu.Unlock()
	return err
}

// waitForRoom parks a Submit until its element is let in (nil), its ctx
// ends, abort is closed (ErrClosed), or the pool closes. Called with mu
// held; returns with it released. A waiter, with its channel, comes from a
// pool, so a Submit that waits allocates nothing once the pool is warm.
func (l *lifecycle[E]) waitForRoom(ctx context.Context, e E, abort <-chan struct{}) error {
	w, _ := l.waitPool.Get().(*waiter[E])
	if w == nil {
		w = &waiter[E]{ready: make(chan error, 1)}
	}
	w.ctx, w.elem = ctx, e
	l.waiters.PushBack(w)
	l.nwaiting.Add(1)
	// Room may have come since the caller looked, from an owner that frees
	// it without mu and then looks for waiters (nwaiting): one of the two
	// sees the other.
	l.grantLocked()
	l.mu.Unlock()
	var err error
	select {
	case err = <-w.ready:
	case <-ctx.Done():
		err = l.leaveLine(w, ctx.Err())
	case <-abort:
		err = l.leaveLine(w, ErrClosed)
	}
	var zero E
	w.ctx, w.elem = nil, zero
	l.waitPool.Put(w) // its channel is empty again
	return err
}

// leaveLine takes w out of the line as its Submit gives up with err, and
// returns err; or, if w was answered meanwhile, the answer, which stands:
// its element may be queued already.
func (l *lifecycle[E]) leaveLine(w *waiter[E], err error) error {
	l.mu.Lock()
	if l.waiters.Remove(w) {
		l.nwaiting.Add(-1)
		l.rejected.Add(1)
		l.mu.Unlock()
		return err
	}
	l.mu.Unlock()
	return <-w.ready
}

// answerLocked answers w, which has left the line: nil, its element is
// queued, or why it will not be. Requires mu held.
func (l *lifecycle[E]) answerLocked(w *waiter[E], err error) {
	w.ready <- err
}

// grantLocked lets blocked Submits into the room there is, oldest first,
// and reports whether it let any in. Requires mu held.
func (l *lifecycle[E]) grantLocked() bool {
	granted := false
	for l.waiters.Len() > 0 {
		w := l.waiters.Front()
		if err := l.admitLocked(w.ctx); err != nil {
			l.waiters.PopFront()
			l.nwaiting.Add(-1)
			l.rejected.Add(1)
			l.answerLocked(w, err)
			continue
		}
		if !l.own.reserveLocked() {
			break
		}
		l.waiters.PopFront()
		l.nwaiting.Add(-1)
		l.own.acceptLocked(w.ctx, w.elem)
		l.answerLocked(w, nil)
		granted = true
	}
	return granted
}

// close is every Close: it stops intake at once and waits until the pool
// is done, giving up when ctx ends. fromInside says the caller is one of
// the pool's own jobs or batches, which Close must not wait for.
func (l *lifecycle[E]) close(ctx context.Context, fromInside bool) error {
	l.mu.Lock()
	if l.state == stateOpen {
		l.state = stateClosing
		l.closed.Store(true)
		for w := l.waiters.PopFront(); w != nil; w = l.waiters.PopFront() {
			l.nwaiting.Add(-1)
			l.rejected.Add(1)
			l.answerLocked(w, ErrClosed)
		}
		l.own.closingLocked()
		l.checkDoneLocked()
	}
	l.mu.Unlock()
	if fromInside {
		return errCloseFromJob
	}
	select {
	case <-l.drained:
	case <-ctx.Done():
		l.giveUp(ctx.Err())
		<-l.drained
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closeErr
}

// giveUp is Close's deadline path. The first call that finds something to
// give up on decides Close's result; with nothing queued or running, the
// pool is about to be done and Close reports that.
func (l *lifecycle[E]) giveUp(err error) {
	l.mu.Lock()
	if l.state == stateDone || l.hardStop || l.own.idleLocked() {
		l.mu.Unlock()
		return
	}
	l.hardStop, l.closeErr = true, err
	after := l.own.giveUpLocked()
	l.mu.Unlock()
	if after != nil {
		after()
	}
}

// checkDoneLocked ends a closing pool once nothing is left: the owner is
// done and nothing is settling. Requires mu held.
func (l *lifecycle[E]) checkDoneLocked() {
	if l.state == stateClosing && l.settling == 0 && l.own.doneLocked() {
		l.state = stateDone
		l.own.endLocked()
		close(l.drained)
	}
}

// settledLocked counts out n things that were settling. Requires mu held.
func (l *lifecycle[E]) settledLocked(n int) {
	l.settling -= n
	l.checkDoneLocked()
}

// count counts n jobs (or items) that left: ran (their outcome ok or
// failed), or never ran (canceled, and of those refused by a guard). It
// takes no lock.
func (l *lifecycle[E]) count(k outcome, n uint64) {
	var total uint64
	switch k {
	case outcomeOK:
		total = l.completed.Add(n)
	case outcomeFailed:
		total = l.completed.Add(n)
		l.failed.Add(n)
	case outcomeRefused:
		total = l.canceled.Add(n)
		l.refused.Add(n)
	default:
		total = l.canceled.Add(n)
	}
	l.drain.add(total, n)
}

// queueFull is the refusal of a full queue with ahead blocked Submits in
// line before the caller, with a RetryAfter from the drain rate.
func (l *lifecycle[E]) queueFull(ahead int) error {
	return l.drain.queueFull(ahead, l.completed.Load()+l.canceled.Load())
}

// counters returns the counters; the caller fills in the gauges. A job
// counted by a worker at the same moment may show up in the next reading.
func (l *lifecycle[E]) counters() Stats {
	return Stats{
		Submitted: l.submitted.Load(),
		Rejected:  l.rejected.Load(),
		Completed: l.completed.Load(),
		Failed:    l.failed.Load(),
		Canceled:  l.canceled.Load(),
		Refused:   l.refused.Load(),
	}
}

// outcome is how a job (or item) left: it ran, with a nil error or not,
// or it never ran.
type outcome int

const (
	outcomeOK       outcome = iota
	outcomeFailed           // ran: returned an error or panicked
	outcomeCanceled         // never ran: its ctx ended, or Close gave up
	outcomeRefused          // never ran: a guard refused it at start
)

// ran reports whether a job with outcome k ran.
func (k outcome) ran() bool { return k == outcomeOK || k == outcomeFailed }
