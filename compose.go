package crew

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"
)

// Guard protects what the jobs call: it may refuse a job at Submit, delay or
// refuse it when a worker is about to start it, and it sees every outcome.
// RateLimiter and Breaker are Guards; Chain puts Guards in front of a pool.
// Guards are not generic, so one Guard can protect pools of different result
// types.
//
// For one job crew calls, in order: Admit once; if Admit let it through,
// exactly one of Start or Abandon; if Start let it through, exactly one Done.
// Implementations must be safe for concurrent use.
//
// A panic in a Guard method does not end the program: crew recovers it as
// a *PanicError. From Admit, Submit returns it; from Start, the job is
// refused with it; from Done, the job's Future resolves with it, while the
// other guards still hear the job's own outcome; from Abandon, it is
// dropped. Either way the other guards get their calls as above.
type Guard interface {
	// Admit is called by Submit before the job is queued. It must not block.
	// A non-nil error, usually a *RejectedError, refuses the job: Submit
	// returns it and the job is never queued. Otherwise the Ticket is handed
	// back to Start or Abandon, so the guard knows which admission it was
	// (the Breaker keeps the generation and the probe slot in it).
	Admit(ctx context.Context) (Ticket, error)

	// Start is called by the worker about to run an admitted job, with the
	// job's ctx and Admit's ticket. It may wait, and must stop waiting when
	// ctx ends. A non-nil error refuses the job: it never runs and its
	// Future resolves with that error. The returned Ticket is handed to
	// Done.
	Start(ctx context.Context, admitted Ticket) (Ticket, error)

	// Done reports the outcome of a job that Start let through: the job's
	// error (nil on success, a *PanicError if it panicked or called
	// runtime.Goexit, a *RejectedError if a later guard refused it at Start)
	// and how long it ran (0 when it did not run; crew's own guards may tell
	// the engine they have no use for it, and then it is 0 too).
	Done(t Ticket, err error, elapsed time.Duration)

	// Abandon reports, with Admit's ticket, that a job Admit let through
	// will not reach Start: its ctx ended while queued, Close gave up on it,
	// the queue refused it, or an earlier guard refused it at Start.
	Abandon(admitted Ticket)
}

// Ticket is a value a Guard hands out at Admit and at Start and gets back at
// Start, Done or Abandon, to tell jobs apart; crew does not look inside. It
// is a plain value, copied freely.
type Ticket uint64

// Chain returns a Pool that puts guards in front of base. guards[0] is the
// outermost: at Submit each guard's Admit runs in order and the first refusal
// is returned; when a worker starts the job, each guard's Start runs in the
// same order; outcomes are reported innermost first. Close closes (drains)
// base. Stats are base's, plus the Submits the guards refused (Rejected).
//
// Recommended order, outermost first: the rate limiter, then the breaker.
// The breaker then judges only calls that reached the downstream, and the
// limiter's tokens go only to jobs that run: a job the breaker refuses at
// Start gives its token back. A rate limit rejection is never counted as a
// failure by the breaker. Chain(Chain(p, a), b) is
// Chain(p, b, a).
//
// Chain panics if base or a guard is nil, or a nil pointer in the
// interface. With no guards it returns base.
func Chain[T any](base Pool[T], guards ...Guard) Pool[T] {
	if isNil(base) {
		panic("crew: Chain: the base pool is nil")
	}
	for i, g := range guards {
		switch {
		case g == nil:
			panic(fmt.Sprintf("crew: Chain: guard %d is nil", i))
		case isNil(g):
			panic(fmt.Sprintf("crew: Chain: guard %d is a nil %T", i, g))
		}
	}
	if len(guards) == 0 {
		return base
	}
	all := slices.Clone(guards)
	c := &chain[T]{base: base, closed: new(atomic.Bool)}
	if inner, ok := base.(*chain[T]); ok {
		c.base, c.closed = inner.base, inner.closed // closing either closes the same base
		all = append(all, inner.guards.g...)
	}
	c.guards = newGuardList(all)
	if ep, ok := c.base.(enginePool[T]); ok {
		c.eng = ep.engine()
	}
	return c
}

// enginePool is implemented by crew's own pools, so a Chain can hand its
// guards to the engine: a job refused at start then counts as Canceled, and
// a job dropped from the queue is reported to Abandon.
type enginePool[T any] interface {
	engine() *engine[T]
}

// chain is the Pool that Chain returns. It is safe for concurrent use.
type chain[T any] struct {
	base     Pool[T]
	eng      *engine[T] // base's engine; nil when base is not a crew pool
	guards   *guardList
	rejected atomic.Uint64 // Submits the guards refused
	closed   *atomic.Bool  // Close was called on this Chain or one it was built from or on
}

// guardList is a Chain's guards, outermost first, and whether one of them
// may use a job's elapsed time (so that a job behind only crew's own guards
// never reads the clock for it). Read-only once built.
type guardList struct {
	g     []Guard
	timed bool
	// lims[i] is guard i if it is a RateLimiter with guards after it, whose
	// token goes back if one of those refuses the job at Start; nil if
	// there is none.
	lims []*RateLimiter
}

func newGuardList(g []Guard) *guardList {
	l := &guardList{g: g, timed: wantElapsed(g)}
	for i, g := range g[:max(len(g)-1, 0)] {
		if rl, ok := g.(*RateLimiter); ok {
			if l.lims == nil {
				l.lims = make([]*RateLimiter, len(l.g))
			}
			l.lims[i] = rl
		}
	}
	return l
}

func (c *chain[T]) Submit(ctx context.Context, job Job[T]) (*Future[T], error) {
	if ctx == nil || job == nil || c.isClosed() {
		return c.base.Submit(ctx, job) // base refuses and counts it (guarantee 16)
	}
	return c.submit(ctx, job, jobSpec[T]{})
}

// submitAttempt implements attemptSubmitter for a Chain over a crew pool:
// every attempt of a Retry passes the guards' Admit.
func (c *chain[T]) submitAttempt(ctx context.Context, job Job[T], spec jobSpec[T]) (*Future[T], error) {
	if c.isClosed() {
		c.rejected.Add(1)
		return nil, ErrClosed
	}
	return c.submit(ctx, job, spec)
}

// submit runs the guards' Admit and hands the job to base.
func (c *chain[T]) submit(ctx context.Context, job Job[T], spec jobSpec[T]) (*Future[T], error) {
	// The tickets stay on the stack: a crew pool copies them into the job's
	// record, another pool gets a copy on the heap.
	var small [4]Ticket
	tickets := small[:0]
	for _, g := range c.guards.g {
		t, err := admitGuard(g, ctx)
		if err != nil {
			abandon(c.guards.g, tickets) // the guards that admitted it
			c.rejected.Add(1)
			if c.eng != nil && c.eng.obs != nil {
				c.eng.obs.refused(err)
			}
			return nil, err
		}
		tickets = append(tickets, t)
	}
	var f *Future[T]
	var err error
	if c.eng != nil {
		spec.guards = c.guards
		f, err = c.eng.submitGuarded(ctx, job, &spec, tickets)
	} else {
		a := new(admission)
		a.set(c.guards, tickets)
		f, err = c.base.Submit(ctx, guarded(job, a))
	}
	if err != nil {
		abandon(c.guards.g, tickets)
	}
	return f, err
}

// admission is one job's way through a Chain: the guards, and the ticket
// each gave at Admit. It is written by Submit before the job is queued and
// read-only afterwards.
type admission struct {
	guards  *guardList
	tickets []Ticket // one per guard that admitted the job
	small   [3]Ticket
}

// set makes a hold guards and copies of their tickets, in a's own ticket
// storage when it is large enough.
func (a *admission) set(guards *guardList, tickets []Ticket) {
	if a.tickets == nil {
		a.tickets = a.small[:0]
	}
	a.guards = guards
	a.tickets = append(a.tickets[:0], tickets...)
}

// abandon tells the guards from the i-th on that admitted the job that it
// will not start. A nil admission has no guards.
func (a *admission) abandon(i int) {
	if a != nil {
		abandon(a.guards.g[i:], a.tickets[i:])
	}
}

// abandon tells each guard that admitted a job, with the ticket it gave,
// that the job will not start: guards[i] gave tickets[i], and guards past
// the tickets did not admit it.
func abandon(guards []Guard, tickets []Ticket) {
	for i, t := range tickets {
		abandonGuard(guards[i], t)
	}
}

// A Guard is user code, called from Submit's goroutine and from the pool's
// own goroutines, where a panic would end the program. So crew calls every
// Guard method through these, which turn a panic into a *PanicError: from
// Admit, Submit returns it; from Start, the job is refused with it; from
// Done, the job's Future resolves with it (the other guards still hear the
// job's own outcome); from Abandon, it is dropped, since the job already
// has its outcome.

func admitGuard(g Guard, ctx context.Context) (t Ticket, err error) {
	defer catch(&err)
	return g.Admit(ctx)
}

func startGuard(g Guard, ctx context.Context, admitted Ticket) (t Ticket, err error) {
	defer catch(&err)
	return g.Start(ctx, admitted)
}

func takeToken(l *RateLimiter, ctx context.Context, admitted Ticket) (t heldToken, err error) {
	defer catch(&err)
	return l.take(ctx, admitted)
}

func doneGuard(g Guard, t Ticket, jobErr error, elapsed time.Duration) (err error) {
	defer catch(&err)
	g.Done(t, jobErr, elapsed)
	return nil
}

func abandonGuard(g Guard, t Ticket) {
	var dropped error
	defer catch(&dropped)
	g.Abandon(t)
}

func (c *chain[T]) Close(ctx context.Context) error {
	if ctx != nil {
		c.closed.Store(true)
	}
	return c.base.Close(ctx)
}

// isClosed reports whether the Chain or its base was closed, as far as
// crew can tell: its Submits then go straight to base, which answers
// ErrClosed, whatever the guards would have said (guarantee 16). A base
// that is not one of crew's pools tells only through its own Submit.
func (c *chain[T]) isClosed() bool {
	if c.closed.Load() {
		return true
	}
	cr, ok := c.base.(closedReporter)
	return ok && cr.isClosed()
}

func (c *chain[T]) ownsJob(ctx context.Context) bool {
	o, ok := c.base.(jobOwner)
	return ok && o.ownsJob(ctx)
}

// closedReporter is implemented by crew's pools and wrappers, so that a
// Chain over them knows when they are closed.
type closedReporter interface {
	isClosed() bool
}

func (c *chain[T]) Stats() Stats {
	s := c.base.Stats()
	s.Rejected += c.rejected.Load()
	return s
}

// guarded wraps job so that guards see its start and outcome, for a base
// pool that is not one of crew's. Such a pool's queue is opaque, so a job it
// drops without running is not reported to Abandon.
func guarded[T any](job Job[T], a *admission) Job[T] {
	return func(ctx context.Context) (T, error) {
		v, _, _, _, err := runGuarded(ctx, job, a, nil, true)
		return v, err
	}
}
