package crewredis

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/crew-go/crew"
)

// lease is a batch of tokens from one reply of Redis.
type lease struct {
	// n is the tokens left. Start takes one with an atomic add without mu,
	// so n may go below 0 when takers race for the last one; <= 0 is spent.
	n atomic.Int64
	// expires is s+E on the limiter's clock, s being when the request was
	// sent: no token of this lease starts a job at or after it.
	expires time.Duration
}

// waiter is a Start waiting for a token.
type waiter struct {
	ready      chan struct{} // capacity 1: a token was handed over, or the state changed
	expires    time.Duration // a handed-over token's end of life; 0: none; guarded by mu
	inLine     bool          // guarded by mu
	prev, next *waiter       // guarded by mu
}

// signal wakes w. It never blocks.
func (w *waiter) signal() {
	select {
	case w.ready <- struct{}{}:
	default:
	}
}

// waiterList is a doubly linked first-in-first-out list of waiters.
type waiterList struct{ head, tail *waiter }

func (q *waiterList) empty() bool { return q.head == nil }

func (q *waiterList) pushBack(w *waiter) {
	w.prev, w.next, w.inLine = q.tail, nil, true
	if q.tail != nil {
		q.tail.next = w
	} else {
		q.head = w
	}
	q.tail = w
}

func (q *waiterList) pushFront(w *waiter) {
	w.prev, w.next, w.inLine = nil, q.head, true
	if q.head != nil {
		q.head.prev = w
	} else {
		q.tail = w
	}
	q.head = w
}

func (q *waiterList) remove(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		q.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		q.tail = w.prev
	}
	w.prev, w.next, w.inLine = nil, nil, false
}

// takeLocked takes a token valid at now from the leases on hand, and
// returns its end of life. Requires mu held.
func (l *RateLimiter) takeLocked(now time.Duration) (time.Duration, bool) {
	for ls := l.cur.Load(); ls != nil; ls = l.cur.Load() {
		if now < ls.expires && ls.n.Add(-1) >= 0 {
			return ls.expires, true
		}
		l.retireLocked(now)
	}
	return 0, false
}

// retireLocked drops the current lease, counting its unused tokens as
// expired, and makes the next one current. Requires mu held.
func (l *RateLimiter) retireLocked(now time.Duration) {
	if ls := l.cur.Load(); ls != nil {
		if left := ls.n.Swap(0); left > 0 {
			l.stats.expired.Add(uint64(left))
		}
	}
	var next *lease
	for len(l.queue) > 0 && next == nil {
		next, l.queue[0] = l.queue[0], nil
		l.queue = l.queue[1:]
		if now >= next.expires {
			l.stats.expired.Add(uint64(max(next.n.Load(), 0)))
			next = nil
		}
	}
	l.cur.Store(next)
}

// serveLocked hands tokens on hand to the jobs in line, first come first.
// Requires mu held.
func (l *RateLimiter) serveLocked(now time.Duration) {
	for !l.line.empty() {
		exp, ok := l.takeLocked(now)
		if !ok {
			return
		}
		w := l.line.head
		l.line.remove(w)
		l.waiting.Add(-1)
		w.expires = exp
		w.signal()
	}
}

// leaveLocked takes w out of the line, if it is in it, and passes a token
// it was handed and did not use to the next job in line. Requires mu held.
func (l *RateLimiter) leaveLocked(w *waiter, now time.Duration) {
	if w.inLine {
		l.line.remove(w)
		l.waiting.Add(-1)
	}
	if exp := w.expires; exp > now && !l.line.empty() {
		next := l.line.head
		l.line.remove(next)
		l.waiting.Add(-1)
		next.expires = exp
		next.signal()
	} else if exp > 0 {
		l.stats.expired.Add(1)
	}
	w.expires = 0
}

// startSlow is Start without a token at hand in the current lease.
func (l *RateLimiter) startSlow(ctx context.Context) (crew.Ticket, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	l.mu.Lock()
	if l.closed.Load() {
		l.mu.Unlock()
		return 0, errLimiterClosed
	}
	now := l.now()
	if l.line.empty() {
		if _, ok := l.takeLocked(now); ok {
			l.mu.Unlock()
			return 0, nil
		}
	}
	if l.down.Load() {
		l.mu.Unlock()
		return l.startDown(ctx)
	}
	if l.cfg.maxWait == 0 {
		l.mu.Unlock()
		l.ask()
		return 0, l.refuse(l.cfg.gap)
	}
	w := &waiter{ready: make(chan struct{}, 1)}
	l.line.pushBack(w)
	l.waiting.Add(1)
	l.mu.Unlock()
	l.wake()
	return l.wait(ctx, w)
}

// wait waits in line for a token until ctx ends, the max wait passes or
// Redis is found down.
func (l *RateLimiter) wait(ctx context.Context, w *waiter) (crew.Ticket, error) {
	var timeout <-chan time.Time
	if l.cfg.maxWait > 0 {
		t := time.NewTimer(l.cfg.maxWait)
		defer t.Stop()
		timeout = t.C
	}
	for {
		select {
		case <-w.ready:
			l.mu.Lock()
			now := l.now()
			if w.expires > 0 {
				if now < w.expires {
					w.expires = 0
					l.mu.Unlock()
					return 0, nil
				}
				// It came too late to be used: dropped. Back to the head
				// of the line, where the next token is.
				l.stats.expired.Add(1)
				w.expires = 0
				l.line.pushFront(w)
				l.waiting.Add(1)
				l.serveLocked(now)
				l.mu.Unlock()
				l.wake()
				continue
			}
			if l.closed.Load() || !l.down.Load() {
				l.mu.Unlock()
				continue // the stop case decides; or a stale signal
			}
			l.leaveLocked(w, now)
			l.mu.Unlock()
			return l.startDown(ctx)
		case <-ctx.Done():
			l.mu.Lock()
			l.leaveLocked(w, l.now())
			l.mu.Unlock()
			return 0, ctx.Err()
		case <-timeout:
			l.mu.Lock()
			if w.expires > l.now() { // handed over just now: take it
				w.expires = 0
				l.mu.Unlock()
				return 0, nil
			}
			l.leaveLocked(w, l.now())
			l.mu.Unlock()
			return 0, l.refuse(l.cfg.gap)
		case <-l.stop:
			l.mu.Lock()
			l.leaveLocked(w, l.now())
			l.mu.Unlock()
			return 0, errLimiterClosed
		}
	}
}

// startDown applies the fail mode to a job that found no token while Redis
// is down.
func (l *RateLimiter) startDown(ctx context.Context) (crew.Ticket, error) {
	switch l.cfg.fail.kind {
	case failOpen:
		l.ask() // so that the refresher finds out when Redis is back
		l.stats.bypassed.Add(1)
		return 0, nil
	case failLocal:
		return l.startLocal(ctx)
	}
	return 0, l.refuseDown()
}

// startLocal waits for a token of FailLocal's bucket.
func (l *RateLimiter) startLocal(ctx context.Context) (crew.Ticket, error) {
	l.ask()
	r := l.fallback.Reserve()
	d := r.Delay()
	if d == 0 {
		l.stats.bypassed.Add(1)
		return 0, nil
	}
	budget := time.Duration(-1)
	if l.cfg.maxWait >= 0 {
		budget = l.cfg.maxWait
	}
	if dl, ok := ctx.Deadline(); ok {
		left := max(time.Until(dl), 0)
		if budget < 0 || left < budget {
			budget = left
		}
	}
	if budget >= 0 && d > budget {
		r.Cancel()
		return 0, l.refuse(d - budget)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		l.stats.bypassed.Add(1)
		return 0, nil
	case <-ctx.Done():
		r.Cancel()
		return 0, ctx.Err()
	case <-l.stop:
		r.Cancel()
		return 0, errLimiterClosed
	}
}
