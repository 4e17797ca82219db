package crewredis

import (
	"context"
	"math"
	"math/rand/v2"
	"time"
)

// The refresher is the limiter's one goroutine: it decides when to ask
// Redis for a lease and for how many tokens, sends at most one request at a
// time (on a goroutine of its own, so that a request hung on a dead server
// cannot stop it from declaring Redis down on time), and installs the
// replies. Close stops it.

// maxBackoff caps the time between two requests while Redis is down.
const maxBackoff = time.Second

// refreshState is the refresher's own bookkeeping; only run touches it.
type refreshState struct {
	inflight bool
	sent     time.Duration // when the request in flight was sent
	want     int           // what it asked for
	timedOut bool          // it outlived the request timeout: Redis was declared down
	next     time.Duration // no request before this
	backoff  time.Duration // the wait after the next failure

	// Demand: rate is an estimate of this replica's starts a second,
	// from the tokens consumed between samples.
	rate      float64
	sampledAt time.Duration
	consumed  float64 // granted - expired - on hand, at sampledAt
	rtt       time.Duration
	granted   int64 // tokens the last reply brought
}

type refreshReply struct {
	leaseReply
	err  error
	sent time.Duration
	recv time.Duration
}

func (l *RateLimiter) run() {
	defer close(l.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	replies := make(chan refreshReply, 1)
	st := refreshState{backoff: l.firstBackoff()}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := l.now()
		l.sample(&st, now)
		if st.inflight {
			if !st.timedOut && now-st.sent >= l.cfg.requestTimeout {
				st.timedOut = true
				l.stats.failures.Add(1)
				l.setDown(true, now+st.backoff)
			}
		} else if now >= st.next {
			if want := l.want(&st, now); want > 0 {
				st.inflight, st.sent, st.want, st.timedOut = true, now, want, false
				l.stats.requests.Add(1)
				go l.request(ctx, replies, want, now)
			}
		}
		timer.Reset(l.nextWake(&st, now))
		select {
		case <-l.stop:
			cancel()
			if st.inflight {
				<-replies
			}
			return
		case <-l.kick:
		case <-timer.C:
		case r := <-replies:
			st.inflight = false
			l.handle(&st, r)
		}
	}
}

// request sends one lease request and reports its reply.
func (l *RateLimiter) request(ctx context.Context, replies chan<- refreshReply, want int, sent time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.requestTimeout)
	rep, err := requestLease(ctx, l.client, l.key, l.interval, l.burst, want)
	cancel()
	replies <- refreshReply{leaseReply: rep, err: err, sent: sent, recv: l.now()}
}

// handle installs a reply, or takes Redis for down after a failure.
func (l *RateLimiter) handle(st *refreshState, r refreshReply) {
	if r.err != nil {
		if !st.timedOut {
			l.stats.failures.Add(1)
		}
		st.next = r.recv + st.backoff
		l.setDown(true, st.next)
		st.backoff = min(2*st.backoff, maxBackoff)
		return
	}
	if st.timedOut {
		// Redis answered after all: it is up, but the request counted as
		// a failure. Its tokens are installed if they are still valid.
		st.timedOut = false
	}
	st.backoff = l.firstBackoff()
	rtt := r.recv - r.sent
	if st.rtt == 0 {
		st.rtt = rtt
	} else {
		st.rtt += (rtt - st.rtt) / 4
	}
	// The gap is stretched by up to a half at random, so that replicas
	// that started together do not keep asking together: the bucket holds
	// only burst tokens, and what accrues beyond them while nobody asks
	// is lost to the cluster.
	st.next = r.sent + l.cfg.gap + time.Duration(rand.Int64N(int64(l.cfg.gap)/2+1))
	if r.granted < int64(st.want) {
		// The cluster's bucket ran dry: no sense asking before it holds a
		// token again.
		st.next = max(st.next, r.recv+time.Duration(r.waitUS)*time.Microsecond)
	}
	st.granted = r.granted
	l.stats.granted.Add(uint64(r.granted))
	ls := &lease{expires: r.sent + l.cfg.lifetime}
	ls.n.Store(r.granted)
	l.mu.Lock()
	l.down.Store(false)
	if !l.closed.Load() {
		if r.recv < ls.expires && r.granted > 0 {
			l.queue = append(l.queue, ls)
		} else {
			l.stats.expired.Add(uint64(r.granted)) // arrived dead: the round trip took longer than E
		}
		if ls := l.cur.Load(); ls == nil || ls.n.Load() <= 0 || r.recv >= ls.expires {
			l.retireLocked(r.recv)
		}
		l.serveLocked(l.now())
	}
	l.mu.Unlock()
}

// setDown marks Redis down or up, and wakes every job in line so that the
// fail mode can decide for it.
func (l *RateLimiter) setDown(down bool, retryAt time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down.Store(down)
	l.retryAt = retryAt
	if down {
		for w := l.line.head; w != nil; w = w.next {
			w.signal()
		}
	}
}

// want is how many tokens to ask for now: enough for the jobs in line and
// for this replica's recent rate until the next lease could arrive, less
// what is on hand, at least 1 and at most burst; 0 when nothing is needed
// (a lease asked for too early would expire unused).
func (l *RateLimiter) want(st *refreshState, now time.Duration) int {
	horizon := l.cfg.gap + st.rtt
	l.mu.Lock()
	inLine := int64(l.waiting.Load())
	onHand := l.onHandLocked(now + horizon)
	l.mu.Unlock()
	need := inLine + int64(math.Ceil(st.rate*horizon.Seconds()))
	if inLine > 0 {
		// Jobs wait: the demand is more than the starts the estimate
		// measured, which the leases capped. Twice the last lease finds it
		// in a few rounds; a cluster-wide shortage keeps leases small, so
		// this does not hoard.
		need = max(need, 2*st.granted)
	}
	asked := l.demand.Swap(false) || inLine > 0
	if !asked && (st.rate < l.idleRate() || onHand >= need) {
		return 0
	}
	return int(min(max(need-onHand, 1), int64(l.burst)))
}

// idleRate is the start rate below which the refresher does not lease
// ahead: less than one start in a token lifetime.
func (l *RateLimiter) idleRate() float64 { return 1 / l.cfg.lifetime.Seconds() }

// onHandLocked counts the tokens on hand that are still valid at t.
// Requires mu held.
func (l *RateLimiter) onHandLocked(t time.Duration) int64 {
	var n int64
	if ls := l.cur.Load(); ls != nil && t < ls.expires {
		n += max(ls.n.Load(), 0)
	}
	for _, ls := range l.queue {
		if t < ls.expires {
			n += max(ls.n.Load(), 0)
		}
	}
	return n
}

// sample updates the demand estimate from the tokens consumed since the
// last sample, averaged over about two refresh intervals.
func (l *RateLimiter) sample(st *refreshState, now time.Duration) {
	dt := now - st.sampledAt
	if dt < l.cfg.gap/2 || dt <= 0 {
		return
	}
	l.mu.Lock()
	onHand := l.onHandLocked(now)
	l.mu.Unlock()
	consumed := float64(l.stats.granted.Load()) - float64(l.stats.expired.Load()) - float64(onHand)
	inst := max(consumed-st.consumed, 0) / dt.Seconds()
	tau := max(2*l.cfg.gap, 10*time.Millisecond).Seconds()
	st.rate += (inst - st.rate) * (1 - math.Exp(-dt.Seconds()/tau))
	st.sampledAt, st.consumed = now, consumed
}

// nextWake is how long the refresher may sleep: until the request in
// flight times out, or, while jobs are asking, until the next request may
// go or a half refresh interval to look again. Idle, a Start wakes it.
func (l *RateLimiter) nextWake(st *refreshState, now time.Duration) time.Duration {
	switch {
	case st.inflight && !st.timedOut:
		return st.sent + l.cfg.requestTimeout - now
	case st.inflight:
		return time.Hour // the reply wakes it
	case st.rate < l.idleRate() && l.waiting.Load() == 0 && !l.demand.Load():
		return time.Hour
	case st.next > now:
		return st.next - now
	}
	return max(l.cfg.gap/2, time.Millisecond)
}

func (l *RateLimiter) firstBackoff() time.Duration {
	return max(l.cfg.gap, 10*time.Millisecond)
}
