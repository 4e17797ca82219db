package crew

import (
	"context"
	"errors"
	"math"
	"math/bits"
	"time"
)

// The Batcher's moving parts. Ownership:
//
//   - b.mu guards the pending ring, the waiters, the running list, the
//     timer, the state, the free batches and Futures, and every counter. A
//     pending item lives in the ring (batch_ring.go) as a value; cutting
//     copies it into the batch. A batch's slices are written under b.mu
//     until it is cut, then only by the goroutine running it (Flush reads
//     futs under b.mu), until finish gives the batch back under b.mu.
//   - Batches are recycled with their slices: nothing outside the Batcher
//     keeps them (a BatchFunc must not keep its items). A ctx watcher finds
//     its item by seq, so one that fires late finds nothing. Futures are
//     never recycled (a caller may keep one forever); they are allocated in
//     small blocks (batch_alloc.go).
//   - A batch goroutine (run: started by a pump, or the timer's own
//     goroutine when it cut the batch) owns the batches it cuts: it calls the
//     BatchFunc and resolves the items with b.mu released, and holds its slot
//     in the running list until every item of its batch is resolved, so Close
//     cannot finish early and, with one slot, batches resolve in order.
//   - Futures resolve exactly once; an item resolves either by leaving the
//     pending ring (its ctx ended, or Close gave up), under b.mu, or from its
//     batch's outcome, in the batch goroutine, which alone can then resolve
//     it and so uses Future.settle. The Future's tag tells Flush and Close
//     how: tagLeft, or the batch's id for a batch-wide error.

// Why a batch was cut.
const (
	reasonNone = iota
	reasonSize
	reasonWait
	reasonManual
	reasonClose
)

// Future tags (Future.resolveTag) set by the Batcher. Any other non-zero
// tag is the id of the batch whose batch-wide error the item got.
const (
	tagNone uint32 = iota // a result, an item's own error, or ErrClosed
	tagLeft               // left the batch because its caller's ctx ended
	firstBatchID
)

// batchWaiter is a Submit blocked on a full Batcher. ready receives nil once
// the item is pending, or the reason it will not be.
type batchWaiter[In, Out any] struct {
	ctx   context.Context
	in    In
	fut   *Future[Out]
	ready chan error // capacity 1
	links[*batchWaiter[In, Out]]
}

// batch is a cut batch, recycled with its slices (newBatchLocked).
type batch[In, Out any] struct {
	futs                   []*Future[Out] // the items' Futures
	ins                    []In           // the items' values, handed to the BatchFunc
	stops                  []func() bool  // the items' ctx watchers, where there are any
	stopped                int            // watchers exec stopped before they fired
	id                     uint32         // tags its items' batch-wide error
	reason                 int
	links[*batch[In, Out]] // running list or free list
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
func (b *Batcher[In, Out]) enqueueLocked(ctx context.Context, in In, f *Future[Out], now int64) int64 {
	if b.pending.n%b.size == 0 || b.watched > 0 {
		if now < 0 {
			now = b.now()
		}
		b.stamp = now
	}
	seq := b.nextSeq
	b.nextSeq++
	s := b.pending.push(f, in, seq, b.stamp)
	b.submitted++
	if ctx.Done() != nil {
		// Registered under b.mu, so the batch goroutine that cuts it sees stop.
		s.stop = context.AfterFunc(ctx, func() { b.leave(ctx, seq) })
		b.watched++
		b.watchOut++
	}
	return now
}

// waitForRoom parks a Submit until the pending items leave room, ctx ends
// or the Batcher closes. Called with b.mu held; returns with it released.
// Waiters are served first come, first served.
func (b *Batcher[In, Out]) waitForRoom(ctx context.Context, in In) (*Future[Out], error) {
	f := b.newFutureLocked()
	w := &batchWaiter[In, Out]{ctx: ctx, in: in, fut: f, ready: make(chan error, 1)}
	b.waiters.push(w)
	b.mu.Unlock()
	select {
	case err := <-w.ready:
		if err != nil {
			return nil, err
		}
		return f, nil
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
	return f, nil
}

// grantLocked moves waiters into the room there is, and reports whether it
// accepted any. Requires b.mu held.
func (b *Batcher[In, Out]) grantLocked(now int64) bool {
	granted := false
	for b.waiters.n > 0 && b.pending.n < b.cap {
		w := b.waiters.pop()
		if err := b.admitLocked(w.ctx); err != nil {
			b.rejected++
			w.ready <- err
			continue
		}
		b.enqueueLocked(w.ctx, w.in, w.fut, now)
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
	if b.pending.n == 0 {
		return reasonNone
	}
	head := b.pending.front()
	switch {
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
	bt := b.newBatchLocked()
	bt.reason = reason
	b.watched -= b.pending.cut(n, bt)
	b.running.push(bt)
	b.busy += n
	b.drain.add(uint64(n)) // room is freed by the cut
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
			b.stopTimerLocked()
			b.armedAt = -1
		}
		return
	}
	deadline := min(b.pending.front().enq, math.MaxInt64-int64(b.wait)) + int64(b.wait) // saturated
	if b.armedAt == deadline {
		return
	}
	d := time.Duration(deadline - now)
	if b.timer == nil {
		b.timer = time.AfterFunc(d, b.onTimer)
		b.timerOut++
	} else if !b.timer.Reset(d) {
		b.timerOut++ // a new firing; one that had started still counts
	}
	b.armedAt = deadline
}

// stopTimerLocked stops the timer, if it is armed and has not fired.
// Requires b.mu held.
func (b *Batcher[In, Out]) stopTimerLocked() {
	if b.timer != nil && b.timer.Stop() {
		b.timerOut--
	}
}

// onTimer runs, in the timer's own goroutine, when the oldest pending item
// may be due; that goroutine then runs the batch itself, which saves a
// hand-off. A late or stale firing is harmless: it only re-checks.
func (b *Batcher[In, Out]) onTimer() {
	b.mu.Lock()
	b.timerOut--
	b.armedAt = -1
	now := b.now()
	var bt *batch[In, Out]
	if b.running.n < b.maxRunning {
		bt = b.cutLocked(now)
	}
	b.pumpLocked(now)
	b.checkDrainedLocked() // Close may be waiting for this call
	b.mu.Unlock()
	if bt != nil {
		b.run(bt)
	}
}

// leave runs when the ctx of the item with seq ends: if the item is still
// pending it leaves and resolves with the ctx error at once. Once its batch
// is cut it stays.
func (b *Batcher[In, Out]) leave(ctx context.Context, seq uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.watchOut--
	i := b.pending.find(seq)
	if i < 0 {
		b.checkDrainedLocked() // Close may be waiting for this call
		return
	}
	s := b.pending.kill(i)
	b.watched-- // it has a watcher: only a watcher calls leave
	b.canceled++
	b.drain.add(1)
	var zero Out
	s.fut.resolveTag(zero, ctx.Err(), tagLeft)
	b.pumpLocked(b.now())
	b.checkDrainedLocked()
}

// giveUp is Close's deadline path: the running batches' ctx is cancelled and
// the pending items resolve with ErrClosed. The first call decides Close's
// result.
func (b *Batcher[In, Out]) giveUp(err error) {
	b.mu.Lock()
	if b.state == stateDone || b.hardStop || (b.pending.n == 0 && b.running.n == 0) {
		b.mu.Unlock() // nothing to give up: only callbacks are on their way
		return
	}
	b.hardStop = true
	b.closeSet, b.closeErr, b.closeWait = true, err, nil
	b.cancel()
	var stops []func() bool
	b.pending.each(func(s *pendingSlot[In, Out]) {
		b.canceled++
		s.fut.fail(ErrClosed)
		if s.stop != nil {
			b.watched--
			stops = append(stops, s.stop)
		}
	})
	b.pending.reset()
	b.checkDrainedLocked()
	b.mu.Unlock()
	if len(stops) == 0 {
		return
	}
	b.mu.Lock()
	b.watchOut -= stopWatchers(stops)
	b.checkDrainedLocked()
	b.mu.Unlock()
}

// stopWatchers stops ctx watchers and returns how many it stopped before
// they fired; each of the others runs leave, or has. Call it with b.mu
// released: a watcher that fired may be waiting for it.
func stopWatchers(stops []func() bool) int {
	n := 0
	for _, stop := range stops {
		if stop() {
			n++
		}
	}
	return n
}

// checkDrainedLocked ends a closing Batcher once nothing is pending or
// running and no timer or watcher callback is on its way. Requires b.mu
// held.
func (b *Batcher[In, Out]) checkDrainedLocked() {
	if b.state == stateClosing && b.pending.n == 0 && b.running.n == 0 {
		b.stopTimerLocked()
		b.armedAt = -1
		if b.timerOut > 0 || b.watchOut > 0 {
			return // the callback checks again when it runs
		}
		b.state = stateDone
		b.cancel()
		close(b.drained)
	}
}

// inFlightLocked lists the unresolved items, pending or in running batches,
// oldest first; each batch's items stay together. An item resolved already
// is left out: its caller could see its outcome before Flush or Close began.
// Requires b.mu held.
func (b *Batcher[In, Out]) inFlightLocked() []*Future[Out] {
	futs := make([]*Future[Out], 0, b.pending.n+b.busy)
	for bt := b.running.head; bt != nil; bt = bt.next {
		for _, f := range bt.futs {
			if !f.isResolved() {
				futs = append(futs, f)
			}
		}
	}
	b.pending.each(func(s *pendingSlot[In, Out]) { futs = append(futs, s.fut) })
	return futs
}

// joinItemErrors joins the errors of resolved Futures, listed as
// inFlightLocked lists them: a batch-wide error once per batch (a batch's
// items are next to each other), skipping items that left on their own ctx.
func joinItemErrors[Out any](futs []*Future[Out]) error {
	var errs []error
	var last uint32
	for _, f := range futs {
		if f.err == nil || f.tag == tagLeft {
			continue
		}
		if f.tag != tagNone {
			if f.tag == last {
				continue
			}
			last = f.tag
		}
		errs = append(errs, f.err)
	}
	return errors.Join(errs...)
}
