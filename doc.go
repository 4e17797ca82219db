// Package crew provides composable worker pools for servers: bounded
// concurrency with typed results, priority, autoscaling and batching, and
// guards (rate limit, circuit breaker) that stack on any pool.
//
// # Choosing a pool
//
// Every pool implements [Pool]: [Pool.Submit] queues a [Job] and returns its
// [Future]; [Do] submits and waits; [Pool.Close] drains; [Pool.Stats] counts.
//
//   - [NewPool] runs at most n jobs at once, first in, first out. Start here.
//   - [NewPriorityPool] runs the queued job of the highest priority first
//     ([WithPriority] puts it in the Submit ctx, so it survives a [Chain]),
//     first in, first out among equals. Waiting jobs age: with the default
//     [DefaultAgingStep] of 100ms, a job of priority p is overtaken only by
//     priority-q work queued less than (q-p)*100ms after it, so none starves;
//     WithAging(0) gives strict order. [WithEvictLowest] lets a full queue
//     drop its lowest-ranked newest job, which resolves with [ErrQueueFull],
//     to admit a higher one. [PriorityPool.QueueStats] shows the oldest wait
//     and per-level counts.
//   - [NewAdaptivePool] keeps between min and max workers: a job that finds
//     no idle worker starts one at once, up to the pool's limit, and a worker
//     idle for [WithIdleTimeout] (default [DefaultIdleTimeout]) retires,
//     never below min. With [WithLimitControl] the limit itself moves between
//     the bounds: it grows while the jobs' latency stays near the learned
//     no-load latency and falls when latency or overload errors rise, so the
//     pool stops adding workers that would only queue at the downstream;
//     short probes re-learn the no-load latency. [WithPriorityOrder] gives it
//     the priority queue. [AdaptivePool.Limit] and [WithOnScale] show workers
//     and limit to operators.
//   - [NewBatcher] turns many small Submits into bulk calls of a
//     [BatchFunc], and gives each caller its own result or error
//     ([ItemErrors]).
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
// before it opened. Outcomes go back innermost first.
//
// Put the limiter outside the breaker. An open circuit then spends no tokens,
// and the breaker only ever sees calls that passed the limiter; it never
// counts a refusal or a cancellation as a failure of the downstream. One
// guard may protect several pools of different result types, and any type
// that implements [Guard] is a guard (see the bulkhead example). A [Batcher]
// can run its batches on any pool, so a Chain's guards apply per batch.
//
// # Concurrency
//
// Every exported type is safe for concurrent use. One engine serves all
// pools: a queue discipline (first in first out, or by priority) and a
// worker-count policy (fixed, or adaptive) plug into it. The engine's mutex
// guards the queue, the idle-worker list and the counters; it is held only
// to take or account for a job, never while a job, a guard or a callback
// runs. Workers are goroutines started on demand up to the pool's limit; an
// idle worker parks on its own channel, and the most recently idle one is
// woken first, so the longest idle retires first. A blocked Submit waits in a
// first-come, first-served line and is handed the room a worker frees.
//
// A job's ctx carries the submitter's values and cancellation, and is
// cancelled too when Close gives up. A queued job whose ctx ends leaves the
// queue at once (a context.AfterFunc watches it) and never runs. A job that
// submits to its own pool never waits for room it would itself free: when
// the queue is full such a nested Submit returns [ErrQueueFull].
//
// Resolving a Future synchronizes before its Done channel closes and before
// Wait returns. Close synchronizes before its return: when it returns, every
// accepted job's Future is resolved and no goroutine of the pool is left.
// Hooks ([BreakerConfig].OnStateChange, [WithOnScale]) run outside every
// lock and may call back into the pool or guard. crew never logs and starts
// no goroutine at import.
//
// # Costs
//
// Figures from a shared 2-core machine; the benchmarks module measures them
// beside ants, pond, workerpool, conc, errgroup, gobreaker, failsafe-go and
// x/time/rate in the same run.
//
// Submit allocates one object per job: its Future, 32 bytes plus the result
// (48 for a Future[int]). The engine's own record of a queued job, 64 bytes,
// is recycled: a pool allocates those only until it has as many as it ever
// held queued and running at once (at most 16384 are kept for reuse). So a
// queued job costs the pool about 100 bytes. A job whose ctx never ends
// (Background, or values on it such as WithPriority's) runs with a job ctx
// that its worker makes once and reuses for later jobs with the same ctx;
// the price is that each worker keeps the last 8 such submitter ctxs, and
// their values, reachable until it retires or meets newer ones. A
// cancellable ctx adds the queue watcher and a per-job ctx (a few more
// allocations); a Submit that waits for room adds none. Waiting on a Future
// allocates its channel on first use.
//
// A fire-and-forget job costs about 220-300 ns on NewPool from one
// submitter: 1.2-1.6x pond's lock-free queue, 1.7x faster than conc, 3x
// faster than ants; 8 submitters at once contend for the pool's one lock and
// pay about twice pond's. Do (submit and wait) costs about 1.1 µs, a quarter
// of pond's result pool. The priority queue costs O(log L) per operation for
// L non-empty priority levels and reads the clock once per Submit (outside
// the lock): tiny jobs over eight levels cost about 1.3x what they cost on
// NewPool. An adaptive pool costs what NewPool costs; its limit control adds
// two clock reads per job; an idle adaptive pool holds min parked goroutines
// and no timer. An item through a Batcher (batch size 100, a no-op bulk
// call) costs about 100-150 ns from Submit to its caller holding the answer,
// a quarter to a third of a naive channel-and-ticker batcher's, and
// allocates only its share of a 1 KB block of Futures.
//
// A Breaker's success path is about 30 ns and allocation-free (gobreaker's
// about 230 ns). A RateLimiter costs about what rate.Limiter.Wait costs (a
// clock read and its lock). Both composed cost about 160-190 ns per call,
// 5-10x less than failsafe-go composing the same two, and a Chain of both
// adds about 150-190 ns and no allocation to a job on a pool.
package crew
