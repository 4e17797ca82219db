package crewredis

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/crew-go/crew"
	"github.com/redis/go-redis/v9"
)

// The syncer is the goroutine that runs the Breaker's scripts, one at a
// time, in the order trips and votes, given-back slots, successful probes,
// slot requests, reads; the listener is the goroutine that waits for
// pub/sub messages and tells the syncer to read. Neither holds mu while it
// talks to Redis.

// syncLoop runs the pending operations whenever there are some, and reads
// the shared state every poll interval.
func (b *Breaker) syncLoop() {
	defer b.wg.Done()
	timer := time.NewTimer(b.bc.poll)
	defer timer.Stop()
	for {
		b.work()
		select {
		case <-b.stop:
			return
		case <-b.kick:
		case <-b.notify:
			b.mu.Lock()
			b.ops.sync = true
			b.mu.Unlock()
		case <-timer.C:
			timer.Reset(b.bc.poll)
			b.mu.Lock()
			b.ops.sync = true
			b.st.retry = true
			b.mu.Unlock()
		}
	}
}

// work runs the pending operations until none is left or Redis fails.
// While Redis is down it tries again only at the poll.
func (b *Breaker) work() {
	for {
		b.mu.Lock()
		if b.st.down && !b.st.retry {
			b.mu.Unlock()
			return
		}
		b.st.retry = false
		op, gen, quorum, ok := b.nextOpLocked()
		b.mu.Unlock()
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(b.ctx, b.bc.requestTimeout)
		rs, err := runBreakerScript(ctx, b.client, b.keys, b.channel, op, gen,
			b.cfg.ResetTimeout.Microseconds(), b.cfg.HalfOpenMaxRequests, b.cfg.ProbeTimeout.Microseconds(),
			quorum, b.bc.quorumWindow.Microseconds(), b.bc.member)
		cancel()
		b.mu.Lock()
		b.st.requests++
		if err != nil {
			b.st.failures++
			b.failedLocked(op)
		} else {
			b.upLocked()
			b.appliedLocked(op, gen, rs)
		}
		b.mu.Unlock()
		b.events.deliver(b.cfg.OnStateChange)
		if err != nil || b.isStopped() {
			return
		}
	}
}

func (b *Breaker) isStopped() bool {
	select {
	case <-b.stop:
		return true
	default:
		return false
	}
}

// nextOpLocked takes the next operation off the pending ones. Requires mu.
func (b *Breaker) nextOpLocked() (op string, gen int64, quorum int, ok bool) {
	o, s := &b.ops, &b.st
	switch {
	case (o.trip || o.vote) && s.rgen < 0:
		return "sync", -1, 1, true // learn the generation first
	case o.trip:
		o.trip = false
		return "trip", o.tripGen, 1, true
	case o.vote:
		o.vote = false
		return "trip", o.tripGen, b.bc.quorum, true
	case len(o.releases) > 0:
		gen, o.releases = o.releases[0], o.releases[1:]
		return "release", gen, 1, true
	case len(o.dones) > 0:
		gen, o.dones = o.dones[0], o.dones[1:]
		return "done", gen, 1, true
	case o.slots > 0 && s.state == crew.StateHalfOpen:
		return "probe", s.rgen, 1, true
	case o.sync:
		o.sync = false
		return "sync", s.rgen, 1, true
	}
	return "", 0, 0, false
}

// failedLocked takes Redis for down after a failed operation: this
// replica decides alone from now on, and a trip is kept to be told later.
// Requires mu held.
func (b *Breaker) failedLocked(op string) {
	s := &b.st
	if op == "trip" && b.ops.tripGen == s.rgen {
		b.ops.trip = true
	}
	b.ops.dones, b.ops.releases, b.ops.slots = nil, nil, 0
	if !s.down {
		s.down = true
		if s.slotCh != nil { // provisional admissions now probe locally
			close(s.slotCh)
			s.slotCh = nil
		}
	}
}

// upLocked notes that Redis answered. After an outage the shared state is
// read again, to be adopted. Requires mu held.
func (b *Breaker) upLocked() {
	if b.st.down {
		b.st.down = false
		b.ops.sync = true
	}
}

// appliedLocked brings this replica's copy in line with what Redis
// answered to op. Requires mu held.
func (b *Breaker) appliedLocked(op string, gen int64, rs remoteState) {
	s := &b.st
	now := time.Now()
	if op == "probe" {
		switch {
		case rs.granted:
			b.ops.slots--
		case rs.state == 2 && rs.gen != gen:
			// The round is newer than this copy knew: adopt it, ask again.
		default:
			b.ops.slots = 0 // every slot of the round is taken
		}
	}
	if (b.ops.trip || b.ops.vote) && rs.state == 0 && (b.ops.tripGen < 0 || b.ops.tripGen == s.rgen) {
		// A trip made before this copy knew the generation: it is about
		// this one.
		b.ops.tripGen, s.rgen = rs.gen, rs.gen
	}
	if rs.gen != s.rgen {
		s.rgen = rs.gen
		target := crew.CircuitState(rs.state)
		if target != s.state {
			b.setLocked(target)
		} else if target == crew.StateHalfOpen {
			s.slots = 0 // this copy's round was its own: its slots are not the shared round's
		}
	}
	if crew.CircuitState(rs.state) == crew.StateOpen && s.state == crew.StateOpen {
		s.openUntil = now.Add(time.Duration(rs.waitUS) * time.Microsecond)
	}
	if op == "probe" && rs.granted && rs.gen == s.rgen && s.state == crew.StateHalfOpen {
		s.slots++
	}
	if op == "probe" {
		if s.slotCh != nil {
			close(s.slotCh) // the provisional admissions look again
			s.slotCh = nil
		}
		if b.ops.slots > 0 && s.state == crew.StateHalfOpen {
			s.slotCh = make(chan struct{})
		}
	}
}

// listen waits for pub/sub messages and asks the syncer to read. When the
// subscription fails it tries again every poll interval; the syncer's
// polling covers the messages lost meanwhile.
func (b *Breaker) listen() {
	defer b.wg.Done()
	ps := b.client.Subscribe(b.ctx, b.channel)
	b.psMu.Lock()
	b.ps = ps
	stopped := b.isStopped()
	b.psMu.Unlock()
	defer func() { _ = ps.Close() }()
	for !stopped {
		msg, err := ps.ReceiveTimeout(b.ctx, b.bc.poll)
		switch {
		case b.isStopped():
			return
		case err == nil:
			if _, ok := msg.(*redis.Message); ok {
				select {
				case b.notify <- struct{}{}:
				default:
				}
			}
		case isTimeout(err):
		default:
			t := time.NewTimer(b.bc.poll)
			select {
			case <-b.stop:
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// eventQueue delivers the changes of state to OnStateChange one at a time
// and in order, outside the Breaker's lock: changes are added under mu,
// and whichever goroutine finds no delivery going on delivers them all.
type eventQueue struct {
	mu         sync.Mutex
	list       [][2]crew.CircuitState
	delivering bool
	panics     uint64 // OnStateChange calls that panicked; guarded by mu
}

func (q *eventQueue) add(from, to crew.CircuitState) {
	q.mu.Lock()
	q.list = append(q.list, [2]crew.CircuitState{from, to})
	q.mu.Unlock()
}

// deliver calls fn for every change waiting, unless another goroutine is
// delivering already. A panic in fn is recovered and counted.
func (q *eventQueue) deliver(fn func(from, to crew.CircuitState)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if fn == nil {
		q.list = q.list[:0]
		return
	}
	if q.delivering {
		return
	}
	q.delivering = true
	for len(q.list) > 0 {
		e := q.list[0]
		q.list = q.list[1:]
		q.mu.Unlock()
		if !callSafely(fn, e[0], e[1]) {
			q.mu.Lock()
			q.panics++
			continue
		}
		q.mu.Lock()
	}
	q.delivering = false
}

// callSafely calls fn, reporting false if it panicked.
func callSafely(fn func(from, to crew.CircuitState), from, to crew.CircuitState) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	fn(from, to)
	return true
}

// ratioWindow counts outcomes over a sliding time window in ten slices.
type ratioWindow struct {
	width  time.Duration
	base   time.Time
	slices [10]struct {
		idx          int64
		calls, fails int
	}
}

func newRatioWindow(w time.Duration) ratioWindow {
	return ratioWindow{width: max(w/10, 1), base: time.Now()}
}

// add counts one outcome at now and returns the totals over the window.
func (w *ratioWindow) add(now time.Time, failed bool) (calls, fails int) {
	idx := int64(max(now.Sub(w.base), 0) / w.width)
	s := &w.slices[idx%10]
	if s.idx != idx {
		s.idx, s.calls, s.fails = idx, 0, 0
	}
	s.calls++
	if failed {
		s.fails++
	}
	for _, s := range w.slices {
		if s.idx > idx-10 && s.idx <= idx {
			calls += s.calls
			fails += s.fails
		}
	}
	return calls, fails
}

func (w *ratioWindow) reset() {
	for i := range w.slices {
		w.slices[i].calls, w.slices[i].fails = 0, 0
	}
}
