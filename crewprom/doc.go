// Package crewprom exports crew's metrics to Prometheus: a pool's counters
// and gauges, each job's queue wait and run time as histograms, refusals by
// the guard that made them, a Breaker's state and counters, and a
// RateLimiter's.
//
// Two kinds of value do it, both prometheus.Collectors to register on a
// registry:
//
//   - An Observer feeds histograms and counters from a pool's
//     crew.Observer: set it at construction with
//     crew.WithObserver(o.Observer()). It is the only part that does work
//     per job.
//   - PoolCollector, BreakerCollector and LimiterCollector read a Stats
//     method when the registry is scraped, and only then: between scrapes
//     they cost nothing.
//
// Every value carries the name it was given as a constant label (pool,
// breaker or limiter), so many pools, breakers and limiters share one
// registry; registering two with the same kind and name is refused by the
// registry as a duplicate. For labels shared by every series (a service, a
// region), wrap the registerer with prometheus.WrapRegistererWith.
//
// Exporting a pool:
//
//	obs := crewprom.NewObserver("search")
//	pool := crew.NewPool[Result](8, crew.WithObserver(obs.Observer()))
//	prometheus.MustRegister(obs, crewprom.NewPoolCollector("search", pool.Stats))
//	prometheus.MustRegister(crewprom.NewBreakerCollector("pay", breaker.Stats))
//	http.Handle("/metrics", promhttp.Handler())
//
// # Names
//
// Every series starts with crew_; counters end in _total, durations are in
// seconds. The names, their labels and what they count are listed on each
// constructor (NewObserver, NewPoolCollector, NewBreakerCollector,
// NewLimiterCollector) and in the module's README.
//
// # Concurrency and costs
//
// Every value here is safe for concurrent use. The Observer's callbacks run
// on crew's workers: a job that ran costs two histogram observations (an
// atomic add each, after a binary search over the buckets), and a refusal
// one counter increment found by guard name in a concurrent map. A scrape
// costs one Stats call per collector (see each Stats method for its cost:
// a few atomic loads, or the Breaker's mutex for O(1) work) and one
// allocation per series. Measured figures are in the module's README.
package crewprom
