package crew

import (
	"context"
	"errors"
	"math/bits"
	"time"
)

// The Batcher's moving parts. Ownership:
//
//   - b.mu guards the pending list, the waiters, the running list, the timer,
//     the state and every counter. An item's links, seq, enq, queued, left and
//     batch fields are guarded by b.mu until its batch is cut; after that only
//     the goroutine running the batch touches the item.
//   - A batch goroutine (run: started by a pump, or the timer's own
//     goroutine when it cut the batch) owns the batches it cuts: it calls the
//     BatchFunc and resolves the items with b.mu released, and holds its slot
//     in the running list until every item of its batch is resolved, so Close
//     cannot finish early and, with one slot, batches resolve in order.
//   - Futures resolve exactly once (Future.resolve); an item resolves either
//     by leaving the pending list (its ctx ended, or Close gave up), under
//     b.mu, or from its batch's outcome, in the batch goroutine.

// Why a batch was cut.
const (
	reasonNone = iota
	reasonSize
	reasonWait
	reasonManual
	reasonClose
)

// batchItem is one submitted item. Its Future lives inside it, so an item
// costs one allocation.
type batchItem[In, Out any] struct {
	fut                        Future[Out]
	in                         In
	ctx                        context.Context // the caller's
	stop                       func() bool     // stops the ctx watcher; nil when ctx cannot end
	seq                        uint64          // arrival order
	enq                        int64           // arrival time, ns since b.epoch
	queued                     bool            // still pending (not cut, not left)
	links[*batchItem[In, Out]]                 // pending list
	batch                      *batch[In, Out] // set when cut
	left                       bool            // left because its caller's ctx ended
}

// batchWaiter is a Submit blocked on a full Batcher. ready receives nil once
// the item is pending, or the reason it will not be.
type batchWaiter[In, Out any] struct {
	it    *batchItem[In, Out]
	ready chan error // capacity 1
	links[*batchWaiter[In, Out]]
}

// batch is a cut batch. err, when not nil, is the error every item got.
type batch[In, Out any] struct {
	items                  []*batchItem[In, Out]
	reason                 int
	err                    error
	links[*batch[In, Out]] // running list
}

// batchResult is a batch's outcome before it is delivered to the items.
type batchResult[Out any] struct {
	outs []Out
	errs ItemErrors // per-item errors, or nil
	err  error      // when not nil, every item fails with it
	ran  bool       // the BatchFunc was called (Completed) or never (Canceled)
}

// now is the time since b.epoch, in ns; a monotonic reading.
func (b *Batcher[In, Out]) now() int64 { return int64(time.Since(b.epoch)) }

// admitLocked refuses an item whatever the room. Requires b.mu held.
func (b *Batcher[In, Out]) admitLocked(ctx context.Context) error {
	if b.state != stateOpen {
		return ErrClosed
	}
	return ctx.Err()
}

// rejectUnlock counts a refused Submit and releases b.mu.
func (b *Batcher[In, Out]) rejectUnlock(err error) (*Future[Out], error) {
	b.rejected++
	b.mu.Unlock()
	return nil, err
}

// enqueueLocked accepts it as pending and returns the time it read, or now
// as given (-1: not read) if it needed none. The caller pumps. Requires b.mu
// held.
//
// Only an item that can become the head of the pending list needs its own
// arrival time (the head's age decides a wait cut); the others take the
// last time read, which is no later than their arrival, so a mistake here
// could only cut a batch early, never late. Cuts take exactly b.size items
// or all of them, so while no item ahead can leave (none is watched), an
// item becomes the head only if its place in the list is a multiple of
// b.size. That saves a clock read (about 25 ns) on all other items.
func (b *Batcher[In, Out]) enqueueLocked(it *batchItem[In, Out], now int64) int64 {
	if b.pending.n%b.size == 0 || b.watched > 0 {
		if now < 0 {
			now = b.now()
		}
		b.stamp = now
	}
	it.enq = b.stamp
	it.seq = b.nextSeq
	b.nextSeq++
	it.queued = true
	b.pending.push(it)
	b.submitted++
	if ctx := it.ctx; ctx.Done() != nil {
		// Registered under b.mu, so the batch goroutine that cuts it sees stop.
		it.stop = context.AfterFunc(ctx, func() { b.leave(it) })
		b.watched++
	}
	return now
}

// waitForRoom parks a Submit until the pending items leave room, ctx ends
// or the Batcher closes. Called with b.mu held; returns with it released.
// Waiters are served first come, first served.
func (b *Batcher[In, Out]) waitForRoom(ctx context.Context, it *batchItem[In, Out]) (*Future[Out], error) {
	w := &batchWaiter[In, Out]{it: it, ready: make(chan error, 1)}
	b.waiters.push(w)
	b.mu.Unlock()
	select {
	case err := <-w.ready:
		if err != nil {
			return nil, err
		}
		return &it.fut, nil
	case <-ctx.Done():
	}
	b.mu.Lock()
	if b.waiters.remove(w) {
		return b.rejectUnlock(ctx.Err())
	}
	b.mu.Unlock()
	// The answer was given as ctx ended; it stands, the item may be pending.
	if err := <-w.ready; err != nil {
		return nil, err
	}
	return &it.fut, nil
}

// grantLocked moves waiters into the room there is, and reports whether it
// accepted any. Requires b.mu held.
func (b *Batcher[In, Out]) grantLocked(now int64) bool {
	granted := false
	for b.waiters.n > 0 && b.pending.n < b.cap {
		w := b.waiters.pop()
		if err := b.admitLocked(w.it.ctx); err != nil {
			b.rejected++
			w.ready <- err
			continue
		}
		b.enqueueLocked(w.it, now)
		w.ready <- nil
		granted = true
	}
	return granted
}

// pumpLocked starts a batch goroutine for every due batch while the running
// batches are below the limit, lets waiters in, and sets the timer for the
// oldest item left. Requires b.mu held.
func (b *Batcher[In, Out]) pumpLocked(now int64) {
	for {
		for b.running.n < b.maxRunning {
			bt := b.cutLocked(now)
			if bt == nil {
				break
			}
			go b.run(bt)
		}
		if !b.grantLocked(now) {
			break
		}
	}
	b.armLocked(now)
}

// dueLocked says whether, and why, the pending items make a batch now.
// Requires b.mu held.
func (b *Batcher[In, Out]) dueLocked(now int64) int {
	head := b.pending.head
	switch {
	case head == nil:
		return reasonNone
	case b.pending.n >= b.size:
		return reasonSize
	case b.state != stateOpen:
		return reasonClose
	case head.seq < b.flushSeq:
		return reasonManual
	case now-head.enq >= int64(b.wait):
		return reasonWait
	}
	return reasonNone
}

// cutLocked takes the next batch, oldest items first, if one is due, and
// counts it as running. Requires b.mu held.
func (b *Batcher[In, Out]) cutLocked(now int64) *batch[In, Out] {
	reason := b.dueLocked(now)
	if reason == reasonNone {
		return nil
	}
	n := min(b.size, b.pending.n)
	bt := &batch[In, Out]{items: make([]*batchItem[In, Out], n), reason: reason}
	for i := range n {
		it := b.pending.pop()
		it.queued = false
		it.batch = bt
		if it.stop != nil {
			b.watched--
		}
		bt.items[i] = it
	}
	b.running.push(bt)
	b.busy += n
	s := &b.bs
	s.Batches++
	s.Items += uint64(n)
	if n == b.size {
		s.Full++
	}
	switch reason {
	case reasonSize:
		s.BySize++
	case reasonWait:
		s.ByWait++
	case reasonManual:
		s.ByManual++
	case reasonClose:
		s.ByClose++
	}
	s.Sizes[min(bits.Len(uint(n))-1, len(s.Sizes)-1)]++
	return bt
}

// armLocked sets the timer for the moment the oldest pending item is due,
// or stops it when a finishing batch goroutine will look instead (no free
// slot) or nothing is pending. Requires b.mu held.
func (b *Batcher[In, Out]) armLocked(now int64) {
	if b.pending.n == 0 || b.running.n >= b.maxRunning || b.state == stateDone {
		if b.armedAt >= 0 {
			b.timer.Stop()
			b.armedAt = -1
		}
		return
	}
	deadline := b.pending.head.enq + int64(b.wait)
	if b.armedAt == deadline {
		return
	}
	d := time.Duration(deadline - now)
	if b.timer == nil {
		b.timer = time.AfterFunc(d, b.onTimer)
	} else {
		b.timer.Reset(d)
	}
	b.armedAt = deadline
}

// onTimer runs, in the timer's own goroutine, when the oldest pending item
// may be due; that goroutine then runs the batch itself, which saves a
// hand-off. A late or stale firing is harmless: it only re-checks.
func (b *Batcher[In, Out]) onTimer() {
	b.mu.Lock()
	b.armedAt = -1
	now := b.now()
	var bt *batch[In, Out]
	if b.running.n < b.maxRunning {
		bt = b.cutLocked(now)
	}
	b.pumpLocked(now)
	b.mu.Unlock()
	if bt != nil {
		b.run(bt)
	}
}

// leave runs when a pending item's ctx ends: the item leaves and resolves
// with the ctx error at once. Once its batch is cut it stays.
func (b *Batcher[In, Out]) leave(it *batchItem[In, Out]) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !it.queued {
		return
	}
	b.pending.remove(it)
	b.watched-- // it has a watcher: only a watcher calls leave
	it.queued = false
	it.left = true
	b.canceled++
	it.fut.fail(it.ctx.Err())
	b.pumpLocked(b.now())
	b.checkDrainedLocked()
}

// giveUp is Close's deadline path: the running batches' ctx is cancelled and
// the pending items resolve with ErrClosed. The first call decides Close's
// result.
func (b *Batcher[In, Out]) giveUp(err error) {
	b.mu.Lock()
	if b.state == stateDone || b.hardStop {
		b.mu.Unlock()
		return
	}
	b.hardStop = true
	b.closeSet, b.closeErr, b.closeWait = true, err, nil
	b.cancel()
	var stops []func() bool
	for it := b.pending.pop(); it != nil; it = b.pending.pop() {
		it.queued = false
		b.canceled++
		it.fut.fail(ErrClosed)
		if it.stop != nil {
			b.watched--
			stops = append(stops, it.stop)
		}
	}
	b.checkDrainedLocked()
	b.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
}

// checkDrainedLocked ends a closing Batcher once nothing is pending or
// running. Requires b.mu held.
func (b *Batcher[In, Out]) checkDrainedLocked() {
	if b.state == stateClosing && b.pending.n == 0 && b.running.n == 0 {
		b.state = stateDone
		if b.armedAt >= 0 {
			b.timer.Stop()
			b.armedAt = -1
		}
		b.cancel()
		close(b.drained)
	}
}

// inFlightLocked lists the unresolved items, pending or in running batches,
// oldest first; each batch's items stay together. An item resolved already
// is left out: its caller could see its outcome before Flush or Close began.
// Requires b.mu held.
func (b *Batcher[In, Out]) inFlightLocked() []*batchItem[In, Out] {
	items := make([]*batchItem[In, Out], 0, b.pending.n+b.busy)
	for bt := b.running.head; bt != nil; bt = bt.next {
		for _, it := range bt.items {
			if !it.fut.isResolved() {
				items = append(items, it)
			}
		}
	}
	for it := b.pending.head; it != nil; it = it.next {
		items = append(items, it)
	}
	return items
}

// joinItemErrors joins the errors of resolved items, a batch-wide error once
// per batch, skipping items that left on their own ctx.
func joinItemErrors[In, Out any](items []*batchItem[In, Out]) error {
	var errs []error
	var last *batch[In, Out]
	for _, it := range items {
		if it.left || it.fut.err == nil {
			continue
		}
		if bt := it.batch; bt != nil && bt.err != nil {
			if bt == last {
				continue
			}
			last = bt
		}
		errs = append(errs, it.fut.err)
	}
	return errors.Join(errs...)
}
