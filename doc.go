// Package crew provides composable worker pools for servers: bounded
// concurrency with typed results, priority, autoscaling and batching,
// guards (rate limit, circuit breaker) that stack on any pool, and Retry.
//
// # Choosing a pool
//
// Every pool implements [Pool]: [Pool.Submit] queues a [Job] and returns its
// [Future]; [Do] submits and waits; [Pool.Close] drains; [Pool.Stats] counts.
//
//   - [NewPool] runs at most n jobs at once, first in, first out. Start here.
//     [WorkerPool.Resize] moves n at run time.
//   - [NewPriorityPool] runs the queued job of the highest priority first
//     ([WithPriority] puts it in the Submit ctx, so it survives a [Chain]),
//     first in, first out among equals. Waiting jobs age: with the default
//     [DefaultAgingStep] of 100ms, a job of priority p is overtaken only by
//     priority-q work queued less than (q-p)*100ms after it, so none starves;
//     WithAging(0) gives strict order. [WithEvictLowest] lets a full queue
//     drop its lowest-ranked newest job to admit a higher one.
//   - [NewAdaptivePool] keeps between min and max workers: a job that finds
//     no idle worker starts one at once, up to the pool's limit, and a worker
//     idle for [WithIdleTimeout] retires, never below min. With
//     [WithLimitControl] the limit itself follows the downstream's latency.
//     [WithPriorityOrder] gives it the priority queue.
//   - [NewBatcher] turns many small Submits into bulk calls of a
//     [BatchFunc], and gives each caller its own result or error
//     ([ItemErrors]).
//   - [Group] runs a set of jobs on a pool and waits for all of them.
//   - [Handler] and [Middleware] put a pool in front of an http.Handler.
//
// # Composition
//
// Guards stack on any pool with [Chain]: Chain(pool, limiter, breaker), where
// guards[0] is the outermost. At Submit every guard's Admit runs in order and
// must not block: a [RateLimiter] refuses there a job that could not start in
// time, and a [Breaker] refuses everything while open. No refusal queues
// anything, and each is a *[RejectedError] with a RetryAfter. When a worker
// takes the job, each guard's Start runs in the same order: the limiter waits
// for the job's token (tokens bound starts, not Submits), and the breaker
// hands out a permit stamped with its generation, or refuses a job queued
// before it opened. Outcomes go back innermost first. [Execute] makes one
// call through a guard without a pool.
//
// Put the limiter outside the breaker: the breaker then only sees calls
// that passed the limiter, and an open circuit spends no tokens, since a
// job a later guard refuses at Start gives its token back. The breaker
// never counts a refusal or a cancellation as a failure of the downstream. One
// guard may protect several pools of different result types, and any type
// that implements [Guard] is a guard (see the bulkhead example). A [Batcher]
// runs its batches on any pool with [WithBatchPool], so a Chain's guards
// apply per batch.
//
// # Calling a flaky downstream
//
// Stack, outermost first: Retry(Chain(pool, limiter, breaker), policy), and
// give each call a run timeout:
//
//	pool := crew.Retry(crew.Chain(crew.NewPriorityPool[Page](8), limiter, breaker),
//		crew.RetryPolicy{MaxAttempts: 4, BudgetRatio: 0.2})
//	page, err := crew.Do(crew.WithRunTimeout(ctx, 2*time.Second), pool, fetch(url))
//
// [Retry] resubmits a failed attempt to its base, so every attempt passes
// the limiter (the downstream's quota holds for retries too) and the
// breaker (an open circuit refuses it without a call). Between attempts the
// job holds no worker and no queue slot. It waits at least the RetryAfter
// that a refusal carries, so jobs a breaker turned away come back when it
// half-opens, not all at once, and it gives up at once when the next
// attempt could not start before the ctx deadline. [WithRunTimeout] bounds
// each attempt's run, not its time in the queue, so a long queue does not
// make the limiter refuse jobs whose ctx deadline covers the wait. A retry
// budget (BudgetRatio) keeps an outage from multiplying the load.
//
// # Concurrency
//
// Every exported type is safe for concurrent use. One engine serves all
// pools: a queue discipline (first in first out, or by priority) and a
// worker policy (fixed, or adaptive) plug into it. The engine's mutex
// guards the queue, the idle-worker list and the counters; it is held only
// to take or account for a job, never while a job, a guard or a callback
// runs. An idle worker parks on its own channel, and the most recently idle
// one is woken first, so the longest idle retires first. A blocked Submit
// waits in a first-come, first-served line and is handed the room a worker
// frees.
//
// A job's ctx carries the submitter's values and cancellation, and is
// cancelled too when Close gives up. A queued job whose ctx ends leaves the
// queue at once (a context.AfterFunc watches it) and never runs. A job that
// submits to its own pool with its own ctx (or one derived from it) never
// waits for room it would itself free: when the queue is full that nested
// Submit returns [ErrQueueFull]; with another ctx, such as
// context.Background, the pool cannot tell the job's Submit from any other,
// and a job waiting for room only its own pool's jobs can free waits for
// ever. The same holds for Close called from a job.
//
// Resolving a Future synchronizes before its Done channel closes and before
// Wait returns. Close synchronizes before its return: when it returns, every
// accepted job's Future is resolved and no goroutine of the pool is left.
// crew never logs and starts no goroutine at import.
//
// User code that crew calls, where it runs, and what it may do; every one
// runs outside every lock of crew's, and a panic in any is recovered:
//
//   - A [Job]: on a worker. Anything; its panic is its *[PanicError].
//   - A [BatchFunc]: on a batch goroutine. Anything but keep its items; its
//     panic fails its batch.
//   - A [Guard]'s Admit: on the submitter's goroutine, and must not block;
//     Start and Done: on the worker; Abandon: on whoever drops the job. A
//     panic is a *PanicError: Submit's error, the job's refusal, or its
//     outcome.
//   - [BreakerConfig].IsFailure and OnStateChange: on the goroutine whose
//     call reported the outcome or changed the state; they may call the
//     Breaker's methods.
//   - [LimitConfig].IsOverload: on the worker, after the job; it may call
//     the pool. A panic becomes the job's outcome.
//   - [WithOnScale]'s hook: on a worker, one call at a time; it may call
//     Stats, Limit and a Submit that does not wait, not Close. A panic loses
//     that report.
//   - [RetryPolicy].Retryable and OnRetry: on the goroutine that saw an
//     attempt fail (a worker, a timer); they must not block. A panic ends
//     the job with it.
//   - An [Observer]'s JobDone and Refused: on the worker or the submitter;
//     they must be quick. A panic is dropped.
//
// # Guarantees
//
// These hold for every pool and guard, under races, panics and shutdown;
// GUARANTEES.md lists the tests that pin each. Code comments cite them by
// number.
//
//  1. One outcome per accepted job: its Future resolves exactly once, with
//     its result, its error, a *[PanicError], the ctx error (its ctx ended
//     before it started: it never runs), [ErrClosed] (Close gave up on it),
//     or a guard's refusal. No job runs twice (but under [Retry], an
//     attempt that failed runs again). No job is lost.
//  2. Close(ctx) stops intake at once, runs what was queued, waits for
//     running jobs and returns nil; if ctx ends first it cancels the running
//     jobs' ctx, resolves queued jobs with ErrClosed, waits for its
//     goroutines and returns ctx.Err() (nil if nothing was left to give
//     up). It is idempotent, safe from any goroutine, and leaves no
//     goroutine behind.
//  3. Backpressure: queues are bounded; a full queue blocks Submit until
//     room or ctx end, or with [WithNonBlocking] refuses at once with
//     [ErrQueueFull] and a RetryAfter estimated from the drain rate.
//  4. A job's panic becomes a *PanicError; the pool keeps its capacity.
//  5. A job's ctx carries the submitter's values and cancellation; a job
//     whose ctx ends while queued leaves the queue at once. A nil ctx or job
//     is refused with an error.
//  6. Priority: higher first, first in first out among equals; with aging a
//     queued job's wait is bounded; priority travels in ctx, through any
//     Chain.
//  7. Rate limit: in any window w, job starts <= burst + limit*w; a job that
//     could not start within its deadline is refused at Submit with
//     [ErrRateLimited]; a cancelled wait and an accepted job that never
//     starts give their tokens back; Submit never waits for a token.
//  8. Breaker: open, Submit fails at once with [ErrCircuitOpen] and jobs
//     queued before it opened fail at start; half-open admits exactly
//     HalfOpenMaxRequests probes; results from before a state change do not
//     decide the new state; cancellations and other guards' refusals are not
//     failures.
//  9. Adaptive: min workers at start, never more than max nor fewer than
//     min; a backlog grows the pool at once; idle workers retire after the
//     idle timeout.
//  10. Batcher: a full batch is cut at once; no item waits longer than the
//     batch wait before its batch starts (when a slot is free); a BatchFunc
//     never gets an empty or oversized batch; every item gets its own
//     result or error; Close flushes; an item whose ctx ends before its
//     batch is cut leaves it.
//  11. Every refusal is a *RejectedError naming its guard, matching its
//     sentinel with errors.Is, with a RetryAfter where known.
//  12. No logging, no global state, no goroutine started at import.
//  13. Retry: one Future, resolved once with the last attempt's outcome;
//     every attempt a Submit to the base; nothing held between attempts; a
//     wait of at least the error's RetryAfter; no retry of the ctx's own end,
//     ErrClosed or (by default) a panic; giving up at once when the next
//     attempt could not start before the deadline.
//  14. Run timeout: [WithRunTimeout] gives a job a deadline from when it
//     starts, anew for every attempt; queueing and guards' waits do not count.
//  15. Cluster limit (module crewredis): over all replicas sharing a key,
//     starts in any window w are at most burst + limit*(w + E) + 1.
//  16. Closed means closed: after Close, Submit on a pool or a Chain returns
//     ErrClosed, whatever a guard would have said.
//
// # Costs
//
// Submit allocates one object per job, its Future (the result plus four
// words). The engine's own record of a job, 64 bytes, is recycled: a pool
// allocates records only until it has as many as it ever held queued and
// running at once (at most 16384 are kept). A job whose ctx never ends
// (Background, or values such as WithPriority's) runs with a job ctx its
// worker makes once and reuses for later jobs with the same ctx; each
// worker keeps its last 8 such ctxs, and their values, reachable. A ctx
// that can end adds its queue watcher and a per-job ctx. A Submit that
// waits for room allocates nothing more once the pool is warm. Waiting on
// a Future allocates its channel on first use.
//
// A Submit takes no pool-wide lock: it reserves its place with one atomic
// add and pushes its job into the queue under the queue's own lock, held
// for a few instructions; a worker takes its next job in one hold of that
// lock and counts the last in counters of its own. The pool's mutex is
// only for parking and waking workers, starting and retiring them, blocked
// Submits and Close; a worker that finds the queue empty parks, and a
// Submit that finds a parked worker wakes it through that mutex and a
// channel, so when workers outrun a lone submitter, most jobs pay a
// wake-up. [Go] submits without a Future and allocates nothing.
// The priority queue costs O(log L) per operation for L non-empty priority
// levels and reads the clock once per Submit, outside the lock. An adaptive
// pool costs what NewPool costs; its limit control adds two clock readings
// and a lock per job. Chain adds each guard's own cost and no allocation:
// while no job waits for a token, a RateLimiter's Admit is an atomic add
// and its Start a clock reading and two atomic operations; a closed
// Breaker's path takes no lock; a refusal allocates its *RejectedError.
// Retry adds nothing to an attempt that succeeds; a retry allocates its
// timer. An Observer adds three clock readings per job, or one beside
// the limit control's two. benchmarks/README.md has the figures, measured
// beside ants, pond, workerpool, conc, errgroup, gobreaker, failsafe-go
// and x/time/rate, with the commands that reproduce them.
//
// # How crew is built
//
// One engine (engine.go, engine_worker.go, engine_run.go) runs every pool.
// Its pieces:
//
//   - The lifecycle (lifecycle.go), shared with the Batcher: intake (open,
//     closing, done), the line of Submits blocked for room, Close and its
//     giving up, the counters behind Stats.
//   - The queue (queue.go): a discipline of internal/queue, FIFO or
//     Priority (levels under a heap, aging by key arithmetic), holding the
//     engine's job records, which embed their links (internal/list), with
//     the free list of records, under a lock of its own.
//   - The room: one atomic count of the jobs accepted and not finished,
//     bounded by the queue size plus the worker limit.
//   - A worker policy: min, max and a limit, an idle timeout, and for
//     WithLimitControl the controller in internal/limit.
//   - Guards, run by the worker around the job (compose.go), and Retry
//     (retry.go), which the engine hands a failed attempt's outcome.
//
// The Batcher keeps its pending items in internal/ring and runs batches on
// goroutines of its own or on a pool.
package crew
