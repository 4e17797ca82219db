// Package crewprom exports crew's metrics to Prometheus: a pool's counters
// and gauges, each job's queue wait and run time as histograms, refusals by
// the guard that made them, a Breaker's state and counters, and a
// RateLimiter's.
//
// Two kinds of value do it, both prometheus.Collectors to register on a
// registry:
//
//   - An [Observer] feeds histograms and counters from a pool's
//     [crew.Observer]: set it at construction with
//     crew.WithObserver(o.Observer()). It is the only part that does work
//     per job.
//   - [PoolCollector], [BreakerCollector] and [LimiterCollector] read a
//     Stats method when the registry is scraped, and only then: between
//     scrapes they cost nothing.
//
// Every value carries the name it was given as a constant label (pool,
// breaker or limiter), so many pools, breakers and limiters share one
// registry; registering two with the same kind and name is refused by the
// registry as a duplicate. For labels shared by every series (a service, a
// region), wrap the registerer with prometheus.WrapRegistererWith.
//
// Exporting a pool and its breaker:
//
//	obs := crewprom.NewObserver("search")
//	pool := crew.Chain(crew.NewPool[Result](8, crew.WithObserver(obs.Observer())), breaker)
//	prometheus.MustRegister(obs, crewprom.NewPoolCollector("search", pool.Stats))
//	prometheus.MustRegister(crewprom.NewBreakerCollector("search", breaker.Stats))
//	http.Handle("/metrics", promhttp.Handler())
//
// # Names
//
// Every series starts with crew_; counters end in _total, durations are in
// seconds. The names, their labels and what they count are listed on each
// constructor ([NewObserver], [NewPoolCollector], [NewBreakerCollector],
// [NewLimiterCollector]) and in the module's README.
//
// # Concurrency and costs
//
// Every value here is safe for concurrent use. The Observer's callbacks run
// on crew's workers and allocate nothing: a job that ran costs two
// histogram observations, each a scan of the bucket bounds, an atomic add
// and a compare-and-swap on counters striped by goroutine (so workers
// rarely write the same cache line); a refusal costs one counter increment
// found by guard name in a concurrent map. An Observer holds 16 stripes of
// counters per histogram: about 4 KB each with the default buckets, O(buckets).
// A scrape costs one Stats call per collector (see each Stats method: a
// few atomic loads, or the Breaker's mutex for O(1) work) and a few
// allocations per series. Measured figures are in the module's README.
package crewprom
