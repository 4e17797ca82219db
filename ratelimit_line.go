package crew

import (
	"cmp"
	"slices"

	"github.com/crew-go/crew/internal/list"
)

// tokenWaiter is a RateLimiter Start waiting for its token. Its fields are
// guarded by the limiter's mu.
type tokenWaiter struct {
	list.Links[tokenWaiter] // its level's list; the first field, where the list finds it
	lvl                     *waitLevel
	prio                    int
	limitAt                 int64 // the latest instant its token may come; gcra.Never: any
	since                   int64 // while first in line: when its turn began
	refused                 error // set, with w out of line, by whoever refused it
	wake                    chan struct{}
}

// signal wakes w to look at the line again. Capacity 1: a wake-up already
// pending covers this one.
func (w *tokenWaiter) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// waitLine is the line of waiters: higher priority first, and first come
// first served within a priority. It is one FIFO list per priority in a
// slice sorted by priority, so that with L priorities waiting, insert and
// ahead are O(L) and head and remove O(1) (O(L) when a priority empties).
type waitLine struct {
	levels []*waitLevel // non-empty, highest priority first
}

type waitLevel struct {
	prio int
	q    list.List[tokenWaiter]
}

// head returns the first waiter, or nil.
func (ln *waitLine) head() *tokenWaiter {
	if len(ln.levels) == 0 {
		return nil
	}
	return ln.levels[0].q.Front()
}

// ahead returns how many waiters a newcomer of priority prio would have
// ahead of it.
func (ln *waitLine) ahead(prio int) int64 {
	var n int64
	for _, lv := range ln.levels {
		if lv.prio < prio {
			break
		}
		n += int64(lv.q.Len())
	}
	return n
}

// insert puts w at the end of its priority's list and reports whether it
// is last in line.
func (ln *waitLine) insert(w *tokenWaiter) (last bool) {
	i, found := slices.BinarySearchFunc(ln.levels, w.prio, func(lv *waitLevel, prio int) int {
		return cmp.Compare(prio, lv.prio) // descending
	})
	if !found {
		ln.levels = slices.Insert(ln.levels, i, &waitLevel{prio: w.prio})
	}
	w.lvl = ln.levels[i]
	w.lvl.q.PushBack(w)
	return i == len(ln.levels)-1
}

// remove takes w out of the line; nothing if it is not in it.
func (ln *waitLine) remove(w *tokenWaiter) {
	lv := w.lvl
	if lv == nil || !lv.q.Remove(w) {
		return
	}
	w.lvl = nil
	if lv.q.Len() == 0 {
		i := slices.Index(ln.levels, lv)
		ln.levels = slices.Delete(ln.levels, i, i+1)
	}
}

// each calls fn on every waiter in line order; fn may remove the waiter it
// is given (and, by promotion, change no other).
func (ln *waitLine) each(fn func(*tokenWaiter)) {
	for i := 0; i < len(ln.levels); i++ {
		lv := ln.levels[i]
		for w := lv.q.Front(); w != nil; {
			next := w.Next()
			fn(w)
			w = next
		}
		if i < len(ln.levels) && ln.levels[i] != lv {
			i-- // lv emptied and left the slice: the next level is at i
		}
	}
}
