// Package crew provides composable worker pools for servers: bounded
// concurrency with typed results, and guards that protect what the jobs call.
//
// # Choosing a pool
//
// [NewPool] runs at most n jobs at once, first in, first out. Every pool
// implements [Pool]: [Pool.Submit] queues a [Job] and returns its [Future];
// [Do] submits and waits.
//
// # Composition
//
// [Chain] puts [Guard] values in front of any pool: guards[0] is the
// outermost. A guard may refuse a job at Submit, delay or refuse it when a
// worker is about to start it, and it sees every outcome.
//
// # Concurrency
//
// Every pool is safe for concurrent use. One engine serves all pools: a queue
// discipline (first in first out, or by priority) and a worker-count policy
// plug into it. The engine's mutex guards the queue, the idle-worker list and
// the counters; it is held only to take or account for a job, never while a
// job, a guard or a callback runs. Workers are goroutines started on demand
// up to the pool's limit; an idle worker parks on its own channel, and the
// most recently idle one is woken first. A blocked Submit waits in a
// first-come, first-served line and is handed the room a worker frees.
//
// A job's ctx carries the submitter's values and cancellation, and is
// cancelled too when Close gives up. A queued job whose ctx ends leaves the
// queue at once (a context.AfterFunc watches it) and never runs. A job that
// submits to its own pool never waits for room it would itself free: when
// the queue is full such a nested Submit returns [ErrQueueFull].
//
// Close synchronizes before its return: when it returns, every accepted job's
// Future is resolved and no goroutine of the pool is left.
//
// # Costs
//
// Submit allocates one object per job (its Future) when the ctx can never
// end, as with context.Background; a cancellable ctx adds the watcher and a
// per-job ctx (a few more allocations). Waiting on a Future allocates its
// channel on first use. See the benchmarks module for measured figures
// against ants, pond, workerpool, conc and errgroup.
package crew
