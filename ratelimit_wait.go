package crew

import (
	"context"
	"math"
	"time"

	"github.com/crew-go/crew/internal/gcra"
)

// The slow paths of RateLimiter, under mu: Admit's estimate with
// priorities, Start's line of waiters, and the change of limit or burst.
//
// Only the first waiter in line has a time for its token: it waits for the
// instant the bucket names (gcra.Due), takes the token at that instant and
// hands the head of the line to the next, whose turn starts at that same
// instant, not when its goroutine wakes. So the tokens of a busy line come
// exactly 1/limit apart however late goroutines wake, and a waiter that
// leaves (ctx ended, refused) never held a token: nothing is given back,
// there is nothing to give. A waiter's turn (since) never starts before the
// last change of the bucket, so no token is taken under new settings at an
// instant before they applied.

// admitSlow is Admit under mu: for a job with a priority, a bound the fast
// path could not settle, or a bucket that does not refill.
func (l *RateLimiter) admitSlow(ctx context.Context, prio int, bounded bool) (Ticket, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket.Load() // replaced only under mu, so never frozen here
	if prio != 0 && b.P.Kind != gcra.Zero {
		// What the fast path does for priority 0: no estimate without a
		// bound, and none with the clock when tokens are there for every
		// job admitted.
		if !bounded {
			l.n.admitted.Add(1)
			return l.countLocked(prio), nil
		}
		if l.admitFast(b) {
			return l.countLocked(prio), nil
		}
	}
	now := l.now()
	l.seen.Store(now)
	limitAt := l.limitAt(ctx, now)
	for {
		left := l.n.left.Load()
		adm := l.n.admitted.Load()
		due := b.P.Due(b.Load(), now, l.aheadLocked(prio, int64(adm-left)))
		if due == gcra.Never {
			l.n.refusedAdmit.Add(1)
			return 0, rateLimited(0) // no token will come
		}
		if due > limitAt {
			l.n.refusedAdmit.Add(1)
			return 0, rateLimited(due - limitAt)
		}
		// A CAS, not an add: a job admitted without mu since the loads
		// would be ahead of this one and is not in the estimate.
		if l.n.admitted.CompareAndSwap(adm, adm+1) {
			return l.countLocked(prio), nil
		}
	}
}

// countLocked counts an admitted job in its priority's level and returns
// its ticket. Requires mu held.
func (l *RateLimiter) countLocked(prio int) Ticket {
	if prio != 0 {
		if l.levels == nil {
			l.levels = make(map[int]int64)
		}
		l.levels[prio]++
	}
	return priorityTicket(prio)
}

// aheadLocked returns how many of the pending jobs (admitted, not gone)
// will start before a job of priority prio admitted now: those of higher
// or equal priority. Requires mu held.
func (l *RateLimiter) aheadLocked(prio int, pending int64) int64 {
	var atLeast, below int64
	for q, n := range l.levels {
		if q >= prio {
			atLeast += n
		} else {
			below += n
		}
	}
	if prio > 0 {
		return atLeast // the jobs of priority 0 are below it
	}
	return max(pending-below, 0)
}

// limitAt returns the latest instant at which a job with ctx, asking at
// now, may still get its token: WithMaxWait from now, and strictly before
// ctx's deadline (a job starting at its deadline could do nothing);
// gcra.Never without either.
func (l *RateLimiter) limitAt(ctx context.Context, now int64) int64 {
	at := gcra.Never
	if l.cfg.maxWait >= 0 {
		at = gcra.Add(now, int64(l.cfg.maxWait))
	}
	if dl, ok := ctx.Deadline(); ok {
		d := int64(dl.Sub(l.base)) // saturates
		if d > math.MinInt64 {
			d--
		}
		at = min(at, d)
	}
	return at
}

// startSlow is Start when others wait, no token is there, the job has a
// priority, or the bucket was just replaced.
func (l *RateLimiter) startSlow(ctx context.Context, prio int) (heldToken, error) {
	l.mu.Lock()
	b := l.bucket.Load()
	now := l.now()
	if h := l.line.head(); b.P.Kind == gcra.Inf || h == nil || prio > h.prio {
		if took, ok, _ := b.TryTake(now); ok {
			l.leaveLocked(prio, nil)
			l.mu.Unlock()
			return heldToken{b, took}, nil
		}
	}
	limitAt := l.limitAt(ctx, now)
	if due := b.P.Due(b.Load(), now, l.line.ahead(prio)); due == gcra.Never || due > limitAt {
		l.leaveLocked(prio, &l.n.refusedStart)
		l.mu.Unlock()
		return heldToken{}, rateLimitedAt(due, limitAt)
	}
	w := &tokenWaiter{prio: prio, limitAt: limitAt, since: now, wake: make(chan struct{}, 1)}
	l.waiting.Add(1) // before w is in line: from now on no Start takes a token without mu
	if last := l.line.insert(w); !last {
		l.refuseLateLocked(w, now) // w overtook them
	}
	l.mu.Unlock()
	return l.wait(ctx, w)
}

// wait is a Start in line: it waits for its turn at the head, then for its
// token's instant, until ctx ends.
func (l *RateLimiter) wait(ctx context.Context, w *tokenWaiter) (heldToken, error) {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	l.mu.Lock()
	for {
		if w.refused != nil { // refused out of line, and counted, by another
			l.mu.Unlock()
			return heldToken{}, w.refused
		}
		var ring <-chan time.Time
		b := l.bucket.Load()
		if l.line.head() == w || b.P.Kind == gcra.Inf {
			now := l.now()
			due := b.P.Due(b.Load(), w.since, 0)
			if due == gcra.Never || due > w.limitAt {
				l.removeLocked(w, now)
				l.leaveLocked(w.prio, &l.n.refusedStart)
				l.mu.Unlock()
				return heldToken{}, rateLimitedAt(due, w.limitAt)
			}
			if due <= now {
				took, ok, _ := b.TryTake(due)
				if !ok {
					continue // a Start that had not seen the line took it first
				}
				l.removeLocked(w, due) // the next one's turn starts at this instant
				l.leaveLocked(w.prio, nil)
				l.n.waited.Add(1) // after left, as limiterCounts says
				l.mu.Unlock()
				return heldToken{b, took}, nil
			}
			if timer == nil {
				timer = time.NewTimer(time.Duration(due - now))
			} else {
				timer.Reset(time.Duration(due - now))
			}
			ring = timer.C
		}
		l.mu.Unlock()
		select {
		case <-ring:
		case <-w.wake:
		case <-ctx.Done():
		}
		if l.afterWake != nil {
			l.afterWake()
		}
		l.mu.Lock()
		if ctx.Err() != nil && w.refused == nil {
			l.removeLocked(w, l.now())
			l.leaveLocked(w.prio, &l.n.canceled)
			l.mu.Unlock()
			return heldToken{}, ctx.Err()
		}
	}
}

// removeLocked takes w out of the line. If w was first, the next waiter's
// turn starts at since and it is woken. Requires mu held.
func (l *RateLimiter) removeLocked(w *tokenWaiter, since int64) {
	wasHead := l.line.head() == w
	l.line.remove(w)
	l.waiting.Add(-1)
	if h := l.line.head(); wasHead && h != nil {
		h.since = since
		h.signal()
	}
}

// refuseLateLocked refuses every waiter behind after (every waiter, if
// after is nil) whose token can no longer come by its limit, at the rate
// and with the line as they are now. Requires mu held.
func (l *RateLimiter) refuseLateLocked(after *tokenWaiter, now int64) {
	b := l.bucket.Load()
	word := b.Load()
	var pos int64
	behind := after == nil
	l.line.each(func(v *tokenWaiter) {
		if !behind {
			behind = v == after
			pos++
			return
		}
		due := b.P.Due(word, now, pos)
		if due != gcra.Never && due <= v.limitAt {
			pos++
			return
		}
		l.removeLocked(v, now)
		l.leaveLocked(v.prio, &l.n.refusedStart)
		v.refused = rateLimitedAt(due, v.limitAt)
		v.signal()
	})
}

// reshapeLocked replaces the bucket with one of params p holding the tokens
// the old one held now, and works out the waiters' times anew. Requires mu
// held.
func (l *RateLimiter) reshapeLocked(p gcra.Params) {
	old := l.bucket.Load()
	now := l.now()
	w := old.Freeze() // a Start without mu that read old fails from now on
	l.held = nil      // nothing goes back to a frozen bucket
	l.bucket.Store(gcra.NewBucket(p, gcra.Convert(w, now, old.P, p)))
	if h := l.line.head(); h != nil {
		// No token at an instant before the change. Only a head whose
		// goroutine woke late (real time; never under a fake clock) can
		// find its token's instant behind it and need this.
		h.since = max(h.since, now)
	}
	l.refuseLateLocked(nil, now)
	l.line.each(func(v *tokenWaiter) {
		if p.Kind == gcra.Inf || v == l.line.head() {
			v.signal()
		}
	})
}

// rateLimited is the rejection of a job that would fit after more time; 0
// when no token will come.
func rateLimited(after int64) error {
	return &RejectedError{Guard: "ratelimit", RetryAfter: time.Duration(after), Err: ErrRateLimited}
}

// rateLimitedAt is the rejection of a job whose token is due when it may
// wait only until limitAt.
func rateLimitedAt(due, limitAt int64) error {
	if due == gcra.Never {
		return rateLimited(0)
	}
	after := due - limitAt
	if after < 0 { // overflowed: limitAt was far in the past
		after = gcra.Never
	}
	return rateLimited(after)
}
