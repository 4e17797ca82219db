// Package window counts calls and failures over a sliding window of time,
// kept in a fixed number of buckets, for crew's circuit breaker.
package window

import (
	"math"
	"time"
)

// Buckets is the number of slices a Sliding window is kept in.
const Buckets = 10

// Counts are the calls and failures counted in a window.
type Counts struct {
	Calls, Failures int
}

// Sliding counts outcomes over the last span of time: span is cut into
// Buckets slices of equal width, and a count covers the slice that holds
// now and the Buckets-1 before it, so between (Buckets-1)/Buckets of span
// and span. Add and Counts cost O(Buckets) and never allocate.
//
// Time never goes back in a window: a time earlier than the latest one seen
// counts as the latest (callers read the clock before they take the lock
// that guards the window, so their times may arrive slightly out of order).
//
// The zero value is not usable; make one with New. A Sliding is not safe for
// concurrent use: its owner guards it.
type Sliding struct {
	width time.Duration // of one slice, at least 1ns
	base  time.Time     // slice i covers [base+i*width, base+(i+1)*width)
	last  int64         // the latest slice index seen
	b     [Buckets]bucket
}

type bucket struct {
	idx             int64 // which slice since base this bucket counts
	calls, failures int
}

// New returns an empty window of span, whose slices start at base. A span
// that is not a multiple of Buckets nanoseconds is rounded up to the next
// one (so a window never covers less than it was asked to).
//
// New panics if span is not positive.
func New(span time.Duration, base time.Time) Sliding {
	if span <= 0 {
		panic("crew: window.New: the span must be positive")
	}
	width := span / Buckets
	if span%Buckets != 0 {
		width++ // span < MaxInt64, so this does not overflow
	}
	return Sliding{width: width, base: base}
}

// Add counts one outcome at now and returns the counts over the window
// that ends at now, this outcome included.
func (w *Sliding) Add(now time.Time, failed bool) Counts {
	idx := w.index(now)
	b := &w.b[idx%Buckets]
	if b.idx != idx {
		*b = bucket{idx: idx}
	}
	b.calls++
	if failed {
		b.failures++
	}
	return w.sum(idx)
}

// Counts returns the counts over the window that ends at now.
func (w *Sliding) Counts(now time.Time) Counts {
	return w.sum(w.index(now))
}

// Reset forgets every outcome counted so far.
func (w *Sliding) Reset() {
	w.b = [Buckets]bucket{}
}

// index returns the slice that holds now, never one before the latest seen,
// and records it as the latest.
func (w *Sliding) index(now time.Time) int64 {
	idx := int64(0)
	if d := now.Sub(w.base); d > 0 {
		// MaxInt64-Buckets keeps idx-Buckets and idx+1 in range; a window
		// that old has been in use for 292 years.
		idx = min(int64(d/w.width), math.MaxInt64-Buckets)
	}
	idx = max(idx, w.last)
	w.last = idx
	return idx
}

// sum adds up the buckets of the slices in (idx-Buckets, idx]. A bucket
// holding an older slice is stale: it is skipped here and cleared by the
// next Add that lands on it.
func (w *Sliding) sum(idx int64) Counts {
	var c Counts
	for _, b := range w.b {
		if b.idx > idx-Buckets && b.idx <= idx {
			c.Calls += b.calls
			c.Failures += b.failures
		}
	}
	return c
}
