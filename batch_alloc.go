package crew

import "unsafe"

// What a Batcher allocates and reuses: Futures come in blocks, batches are
// recycled with their slices. All of it is guarded by b.mu.

// newFutureLocked hands out the next Future of the current block. Futures
// come in blocks of futureBlock (about 1 KB), which saves an allocation per
// item; the price is that a Future the caller keeps keeps its block, and the
// results and errors in it, reachable. Requires b.mu held.
func (b *Batcher[In, Out]) newFutureLocked() *Future[Out] {
	if b.nextFut == len(b.futs) {
		b.futs, b.nextFut = make([]Future[Out], b.futureBlock), 0
	}
	f := &b.futs[b.nextFut]
	b.nextFut++ // not b.futs = b.futs[1:], which would be a pointer write, behind the GC's write barrier
	return f
}

// futureBlock is how many Futures of this type fit in 1 KB, 1 to 32. An
// object over 512 bytes that holds pointers carries an 8-byte header, so
// the block leaves room for it and fits the 1 KB size class exactly.
func futureBlock[Out any]() int {
	return max(1, min(32, (1024-8)/int(unsafe.Sizeof(Future[Out]{}))))
}

// newBatchLocked returns an empty batch with a new id, recycled if one is
// free. Requires b.mu held.
func (b *Batcher[In, Out]) newBatchLocked() *batch[In, Out] {
	bt := b.freeBatches.PopFront()
	if bt == nil {
		bt = new(batch[In, Out])
	}
	bt.id = b.nextBatchID
	if b.nextBatchID++; b.nextBatchID < firstBatchID {
		b.nextBatchID = firstBatchID
	}
	return bt
}

// freeBatchLocked keeps bt for reuse, with its slices, unless enough are
// kept already. Requires b.mu held.
func (b *Batcher[In, Out]) freeBatchLocked(bt *batch[In, Out]) {
	clear(bt.futs)
	clear(bt.ins)
	clear(bt.stops)
	bt.futs, bt.ins, bt.stops, bt.enqs, bt.stopped = bt.futs[:0], bt.ins[:0], bt.stops[:0], bt.enqs[:0], 0
	if b.freeBatches.Len() < b.maxRunning {
		b.freeBatches.PushBack(bt)
	}
}
