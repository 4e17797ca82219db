package crew

import (
	"context"
	"errors"
	"math"
	"math/bits"
	"time"

	"github.com/crew-go/crew/internal/list"
	"github.com/crew-go/crew/internal/ring"
)

// The Batcher's pending side: items in, batches cut. Ownership:
//
//   - The lifecycle's mu guards the pending ring, the running list, the
//     timer, the free batches and Futures, and every counter. A pending item
//     lives in the ring (internal/ring) as a value; cutting copies it into
//     the batch. A batch's slices are written under mu until it is cut,
//     then only by the goroutine running it (Flush reads futs under mu),
//     until finish gives the batch back under mu.
//   - Batches are recycled with their slices: nothing outside the Batcher
//     keeps them (a BatchFunc must not keep its items). A ctx watcher finds
//     its item by seq, so one that fires late finds nothing. Futures are
//     never recycled (a caller may keep one forever); they are allocated in
//     small blocks (batch_alloc.go).
//   - A batch goroutine (run: started by a pump, or the timer's own
//     goroutine when it cut the batch) owns the batches it cuts: it calls the
//     BatchFunc and resolves the items with mu released, and holds its slot
//     in the running list until every item of its batch is resolved, so Close
//     cannot finish early and, with one slot, batches resolve in order.
//   - Futures resolve exactly once; an item resolves either by leaving the
//     pending ring (its ctx ended, or Close gave up), under mu, or from its
//     batch's outcome, in the batch goroutine. The Future's tag tells Flush
//     and Close how: tagLeft, or the batch's id for a batch-wide error.

// ringSlot is a slot of the pending ring.
type ringSlot[In, Out any] = ring.Slot[pendingItem[In, Out]]

// pendingItem is one pending item: its value, its Future, what cutting it
// needs. It is also what a Submit blocked for room brings.
type pendingItem[In, Out any] struct {
	fut  *Future[Out]
	in   In
	stop func() bool // stops the ctx watcher; nil when the ctx cannot end
	enq  int64       // arrival time, ns since b.epoch (see enqueueLocked)
}

// Why a batch was cut.
const (
	reasonNone = iota
	reasonSize
	reasonWait
	reasonManual
	reasonClose
)

// Future tags (Future.resolve) set by the Batcher. Any other non-zero tag
// is the id of the batch whose batch-wide error the item got.
const (
	tagNone uint32 = iota // a result, an item's own error, or ErrClosed
	tagLeft               // left the batch because its caller's ctx ended
	firstBatchID
)

// batch is a cut batch, recycled with its slices (newBatchLocked).
type batch[In, Out any] struct {
	list.Links[batch[In, Out]] // running list or free list; the first field, where the lists find it

	futs    []*Future[Out] // the items' Futures
	ins     []In           // the items' values, handed to the BatchFunc
	stops   []func() bool  // the items' ctx watchers, where there are any
	enqs    []int64        // the items' arrival times, with an Observer
	start   int64          // when the BatchFunc was called, with an Observer
	ran     int64          // how long it ran, with an Observer
	stopped int            // watchers exec stopped before they fired
	id      uint32         // tags its items' batch-wide error
	reason  int
}

// now is the time since b.epoch, in ns; a monotonic reading.
func (b *Batcher[In, Out]) now() int64 { return int64(time.Since(b.epoch)) }

// enqueueLocked accepts an item as pending and returns the time it read, or
// now as given (-1: not read) if it needed none. The caller pumps.
// Requires mu held.
//
// Only an item that can become the head of the pending list needs its own
// arrival time (the head's age decides a wait cut); the others take the
// last time read, which is no later than their arrival, so a mistake here
// could only cut a batch early, never late. Cuts take exactly b.size items
// or all of them, so while no item ahead can leave (none is watched), an
// item becomes the head only if its place in the list is a multiple of
// b.size. That saves a clock read on all other items.
func (b *Batcher[In, Out]) enqueueLocked(ctx context.Context, in In, f *Future[Out], now int64) int64 {
	if b.pending.Len()%b.size == 0 || b.watched > 0 || b.obs != nil {
		if now < 0 {
			now = b.now()
		}
		b.stamp = now
	}
	seq := b.nextSeq
	b.nextSeq++
	it := b.pending.Push(seq)
	it.fut, it.in, it.enq = f, in, b.stamp
	b.submitted.Add(1)
	if ctx.Done() != nil {
		// Registered under mu, so the batch goroutine that cuts it sees stop.
		it.stop = context.AfterFunc(ctx, func() { b.leave(ctx, seq) })
		b.watched++
		b.watchOut++
	}
	return now
}

// pumpLocked starts a batch goroutine for every due batch while the running
// batches are below the limit, lets waiters in, and sets the timer for the
// oldest item left. Requires mu held.
func (b *Batcher[In, Out]) pumpLocked(now int64) {
	for {
		for b.running.Len() < b.maxRunning {
			bt := b.cutLocked(now)
			if bt == nil {
				break
			}
			go b.run(bt)
		}
		if !b.grantLocked() {
			break
		}
	}
	b.armLocked(now)
}

// dueLocked says whether, and why, the pending items make a batch now.
// Requires mu held.
func (b *Batcher[In, Out]) dueLocked(now int64) int {
	if b.pending.Len() == 0 {
		return reasonNone
	}
	head := b.pending.Front()
	switch {
	case b.pending.Len() >= b.size:
		return reasonSize
	case b.state != stateOpen:
		return reasonClose
	case head.Seq < b.flushSeq:
		return reasonManual
	case now-head.V.enq >= int64(b.wait):
		return reasonWait
	}
	return reasonNone
}

// cutLocked takes the next batch, oldest items first, if one is due, and
// counts it as running. Requires mu held.
func (b *Batcher[In, Out]) cutLocked(now int64) *batch[In, Out] {
	reason := b.dueLocked(now)
	if reason == reasonNone {
		return nil
	}
	n := min(b.size, b.pending.Len())
	bt := b.newBatchLocked()
	bt.reason = reason
	b.pending.Cut(n, func(it *pendingItem[In, Out]) {
		bt.futs = append(bt.futs, it.fut)
		bt.ins = append(bt.ins, it.in)
		if b.obs != nil {
			bt.enqs = append(bt.enqs, it.enq)
		}
		if it.stop != nil {
			b.watched--
			bt.stops = append(bt.stops, it.stop)
		}
	})
	b.running.PushBack(bt)
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
// slot) or nothing is pending. Requires mu held.
func (b *Batcher[In, Out]) armLocked(now int64) {
	if b.pending.Len() == 0 || b.running.Len() >= b.maxRunning || b.state == stateDone {
		b.disarmLocked()
		return
	}
	deadline := min(b.pending.Front().V.enq, math.MaxInt64-int64(b.wait)) + int64(b.wait) // saturated
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

// disarmLocked stops the timer, if it is armed and has not fired.
// Requires mu held.
func (b *Batcher[In, Out]) disarmLocked() {
	if b.armedAt >= 0 && b.timer.Stop() {
		b.timerOut--
	}
	b.armedAt = -1
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
	if b.running.Len() < b.maxRunning {
		bt = b.cutLocked(now)
	}
	b.pumpLocked(now)
	b.checkDoneLocked() // Close may be waiting for this call
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
	i := b.pending.Find(seq)
	if i < 0 {
		b.watchOut--
		b.checkDoneLocked() // Close may be waiting for this call
		b.mu.Unlock()
		return
	}
	it := b.pending.Kill(i)
	b.watched-- // it has a watcher: only a watcher calls leave
	b.count(outcomeCanceled, 1)
	now := b.now()
	b.pumpLocked(now)
	b.mu.Unlock()
	b.obs.jobDone(JobInfo{Wait: time.Duration(now - it.enq), Err: ctx.Err()})
	var zero Out
	it.fut.resolve(zero, ctx.Err(), tagLeft)
	b.mu.Lock()
	b.watchOut-- // counted out only now: Close waits for the resolve above
	b.checkDoneLocked()
	b.mu.Unlock()
}

// The Batcher's side of its lifecycle (see owner).

func (b *Batcher[In, Out]) reserveLocked() bool { return b.pending.Len() < b.cap }

func (b *Batcher[In, Out]) acceptLocked(ctx context.Context, it pendingItem[In, Out]) {
	b.enqueueLocked(ctx, it.in, it.fut, -1)
}

func (b *Batcher[In, Out]) closingLocked() {
	b.closeWait = b.inFlightLocked()
	b.pumpLocked(b.now())
}

func (b *Batcher[In, Out]) idleLocked() bool { return b.pending.Len() == 0 && b.running.Len() == 0 }

// doneLocked also stops the timer once nothing is pending or running: no
// callback of the Batcher may outlive Close.
func (b *Batcher[In, Out]) doneLocked() bool {
	if !b.idleLocked() {
		return false
	}
	b.disarmLocked()
	return b.timerOut == 0 && b.watchOut == 0
}

func (b *Batcher[In, Out]) giveUpLocked() func() {
	b.cancel()
	var stops []func() bool
	var waits []time.Duration
	now := b.now()
	var zero Out
	b.pending.Each(func(s *ringSlot[In, Out]) {
		b.count(outcomeCanceled, 1)
		s.V.fut.resolve(zero, ErrClosed, tagNone)
		if s.V.stop != nil {
			b.watched--
			stops = append(stops, s.V.stop)
		}
		if b.obs != nil {
			waits = append(waits, time.Duration(now-s.V.enq))
		}
	})
	b.pending.Reset()
	if len(stops) == 0 && len(waits) == 0 {
		return nil
	}
	b.settling++ // Close waits for the reports and the watchers
	return func() {
		for _, w := range waits {
			b.obs.jobDone(JobInfo{Wait: w, Err: ErrClosed})
		}
		stopped := stopWatchers(stops) // with mu released: a fired watcher may wait for it
		b.mu.Lock()
		b.watchOut -= stopped
		b.settledLocked(1)
		b.mu.Unlock()
	}
}

func (b *Batcher[In, Out]) endLocked() { b.cancel() }

// stopWatchers stops ctx watchers and returns how many it stopped before
// they fired; each of the others runs leave, or has. Call it with mu
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

// inFlightLocked lists the unresolved items, pending or in running batches,
// oldest first; each batch's items stay together. An item resolved already
// is left out: its caller could see its outcome before Flush or Close began.
// Requires mu held.
func (b *Batcher[In, Out]) inFlightLocked() []*Future[Out] {
	futs := make([]*Future[Out], 0, b.pending.Len()+b.busy)
	for bt := b.running.Front(); bt != nil; bt = bt.Next() {
		for _, f := range bt.futs {
			if !f.isResolved() {
				futs = append(futs, f)
			}
		}
	}
	b.pending.Each(func(s *ringSlot[In, Out]) { futs = append(futs, s.V.fut) })
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
