package crew

import (
	"context"
	"fmt"
	"time"

	"github.com/crew-go/crew/internal/queue"
)

// DefaultAgingStep is the aging step of a PriorityPool built without
// WithAging: a queued job gains one priority level per 100ms it waits. So a
// job of priority p is overtaken by work of priority q > p only if that work
// is queued less than (q-p)*100ms after it; one level of difference is worth
// 100ms of queueing, far more than a healthy pool's queueing delay, so
// priorities decide the order under normal load, and aging takes over only
// when the higher levels keep the pool saturated.
const DefaultAgingStep = 100 * time.Millisecond

// PriorityPool is a fixed-size pool that runs the queued job of the highest
// priority first, first in, first out among equal priorities, and ages
// waiting jobs so that none waits forever (see WithAging). Create it with
// NewPriorityPool; set a job's priority with WithPriority on its Submit ctx.
//
// It is safe for concurrent use. Its queue costs O(log L) per Submit, start
// and cancellation, L being the number of priority levels with jobs queued,
// and no memory per queued job beyond what every pool keeps: the Future
// (the result's size plus four words) and the engine's 64-byte record of
// the job, recycled once the job is over. The job ctx is made when the job
// starts, not while it waits, and a worker reuses it for later jobs with
// the same WithPriority ctx (see the package doc's Costs).
type PriorityPool[T any] struct {
	e *engine[T]
	q *queue.Priority[task[T]] // guarded by e.q.mu
}

// NewPriorityPool returns a pool of at most workers goroutines running the
// queued job of the highest priority first, with equal priorities in the
// order they were submitted. Workers start on demand, as jobs arrive, and
// stay until Close. Options: WithQueueSize, WithNonBlocking, WithAging
// (default DefaultAgingStep), WithEvictLowest (WithIdleTimeout is ignored).
//
// NewPriorityPool panics if workers < 1, or if an option does not apply
// (see Option).
func NewPriorityPool[T any](workers int, opts ...Option) *PriorityPool[T] {
	if workers < 1 {
		panic(fmt.Sprintf("crew: NewPriorityPool(%d): workers must be >= 1", workers))
	}
	c := newConfig("NewPriorityPool", forPriority, opts)
	q := priorityQueueFor[T](&c)
	return &PriorityPool[T]{e: newEngine[T](prio[T]{q}, &c, workerPolicy{max: workers}), q: q}
}

// WithPriority returns a copy of ctx that carries priority: a job submitted
// with it to a PriorityPool runs before the queued jobs of lower priority.
// Higher runs first; a ctx without a priority means 0; negative values are
// fine. The priority travels in ctx, so it survives any Chain, and a job
// submitted from inside a job inherits the outer job's priority unless it
// sets its own. Other pools ignore it. ctx must not be nil.
func WithPriority(ctx context.Context, priority int) context.Context {
	return context.WithValue(ctx, priorityKey{}, priority)
}

// priorityKey is the ctx key of WithPriority.
type priorityKey struct{}

// WithAging sets how fast a queued job of a PriorityPool gains priority: one
// level per step waited, continuously (half a step waited is half a level).
// Work of priority q queued after a job of priority p < q runs before it
// only if it was queued less than (q-p)*step after it; from then on every
// newly queued job of priority q or lower runs after it, so under any
// stream of higher-priority work it waits at most (q-p)*step plus the time
// to run the jobs ranked ahead of it at that moment, which are bounded by
// the queue size. Without this option the step is DefaultAgingStep.
//
// A step of 0 means strict priority: a queued job waits as long as jobs of
// higher priority keep coming, and may starve. Priorities whose credit
// p*step exceeds 2^62ns (146 years) in size rank as if they were that size.
//
// WithAging panics if step is negative. It applies to NewPriorityPool and
// to NewAdaptivePool with WithPriorityOrder; other constructors ignore it.
func WithAging(step time.Duration) Option {
	if step < 0 {
		panic(fmt.Sprintf("crew: WithAging(%v): the step must be >= 0", step))
	}
	return option{name: "WithAging", to: forPriority | forAdaptive, ignored: true,
		apply: func(c *config) { c.aging, c.agingSet = step, true }}
}

// WithEvictLowest makes a full PriorityPool queue make room for a job that
// ranks strictly above its lowest-ranked job (with aging, rank counts the
// time waited): that job, the newest of the lowest rank, leaves the queue and
// its Future resolves with a *RejectedError matching ErrQueueFull, counted
// in Stats as Canceled. A job that ranks no higher than every queued job
// waits for room, or is rejected WithNonBlocking, as without this option.
// It applies to NewPriorityPool, and to NewAdaptivePool with
// WithPriorityOrder (see Option).
func WithEvictLowest() Option {
	return option{name: "WithEvictLowest", to: forPriority | forAdaptive, apply: func(c *config) { c.evictLowest = true }}
}

// priorityQueue returns the priority queue the options describe.
func priorityQueueFor[T any](c *config) *queue.Priority[task[T]] {
	step := DefaultAgingStep
	if c.agingSet {
		step = c.aging
	}
	return queue.NewPriority[task[T]](step, c.evictLowest)
}

// Submit queues job with the priority WithPriority put in ctx (0 if none)
// and returns its Future. When the queue is full it makes room WithEvictLowest
// if it may, and otherwise waits for room until ctx ends, unless the pool
// was built WithNonBlocking or the caller is itself one of this pool's jobs
// (a nested Submit): then it returns a *RejectedError matching ErrQueueFull
// at once, since waiting could deadlock. After Close it returns ErrClosed. A
// nil ctx or job, or a ctx that has already ended, is refused with an error.
//
// A job's wait, for aging, starts when it is queued; a Submit waiting for
// room is not queued yet.
//
// The job runs with a ctx that carries ctx's values and cancellation and is
// also cancelled if Close gives up. If ctx ends while the job is queued, the
// job leaves the queue without running and its Future resolves with
// ctx.Err() at once.
func (p *PriorityPool[T]) Submit(ctx context.Context, job Job[T]) (*Future[T], error) {
	return p.e.submit(ctx, job, nil)
}

// Close stops intake at once: later Submits return ErrClosed. It runs what
// was queued, in priority order, waits for the running jobs and returns nil.
// If ctx ends first, it cancels the ctx of the running jobs, resolves the
// queued ones with ErrClosed, waits for the workers to return and returns
// ctx.Err().
//
// Close is idempotent and safe from any goroutine: every call returns once
// the pool is done, with the first outcome. When Close returns, every
// accepted job's Future is resolved and no goroutine of the pool remains.
// Called from one of the pool's own jobs with that job's ctx, Close stops
// intake and returns an error at once instead of waiting for itself.
func (p *PriorityPool[T]) Close(ctx context.Context) error { return p.e.close(ctx) }

// Stats returns a snapshot of the pool's counters.
func (p *PriorityPool[T]) Stats() Stats { return p.e.stats() }

// PriorityStats is a snapshot of a PriorityPool's queue, for operators who
// watch for starvation: a growing OldestWait, or jobs piling up on the low
// levels, shows it coming. It is a snapshot the caller owns.
type PriorityStats struct {
	Queued         int           // jobs waiting now, as in Stats.Queued
	OldestWait     time.Duration // how long the longest-waiting queued job has waited; 0 if none
	OldestPriority int           // that job's priority (of several queued at that instant, the lowest); 0 if none
	Levels         map[int]int   // queued jobs per priority level; levels with none are left out
}

// QueueStats returns a snapshot of the queue. It takes the pool's lock for
// O(L) time, L being the number of levels with jobs queued, and allocates
// the Levels map; Submit and the workers pay nothing for it.
func (p *PriorityPool[T]) QueueStats() PriorityStats {
	p.e.q.mu.Lock()
	defer p.e.q.mu.Unlock()
	s := PriorityStats{Queued: p.q.Len(), Levels: make(map[int]int)}
	p.q.Levels(func(prio, n int) { s.Levels[prio] = n })
	s.OldestPriority, s.OldestWait, _ = p.q.Oldest()
	return s
}

func (p *PriorityPool[T]) engine() *engine[T] { return p.e }

func (p *PriorityPool[T]) isClosed() bool { return p.e.closed.Load() }

func (p *PriorityPool[T]) ownsJob(ctx context.Context) bool {
	return ctx.Value(nestedKey{&p.e.mark}) != nil
}

func (p *PriorityPool[T]) submitAttempt(ctx context.Context, job Job[T], spec jobSpec[T]) (*Future[T], error) {
	return p.e.submit(ctx, job, &spec)
}

// priorityOf returns the priority WithPriority put in ctx, or 0.
func priorityOf(ctx context.Context) int {
	p, _ := ctx.Value(priorityKey{}).(int)
	return p
}
