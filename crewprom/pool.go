package crewprom

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/crew-go/crew"
)

// PoolCollector exports a pool's crew.Stats, read when the registry is
// scraped. Create it with NewPoolCollector. It is a prometheus.Collector
// and is safe for concurrent use.
type PoolCollector struct {
	c statsCollector[crew.Stats]
}

// NewPoolCollector returns a collector of the Stats that stats returns
// (a pool's Stats method: any crew.Pool, a Chain, a Batcher), with the
// label pool=pool, one series per field:
//
//   - crew_pool_workers (gauge): worker goroutines alive.
//   - crew_pool_busy_workers (gauge): workers running a job.
//   - crew_pool_queued_jobs (gauge): accepted jobs not started yet.
//   - crew_pool_submitted_jobs_total (counter): Submit calls that accepted
//     a job.
//   - crew_pool_rejected_submits_total (counter): Submit calls that
//     returned an error (a Chain's include its guards' refusals).
//   - crew_pool_completed_jobs_total (counter): jobs that ran to the end.
//   - crew_pool_failed_jobs_total (counter): of those, jobs that returned
//     an error or panicked.
//   - crew_pool_canceled_jobs_total (counter): accepted jobs that never
//     ran.
//   - crew_pool_refused_jobs_total (counter): of those, jobs a guard
//     refused at start.
//
// A Batcher's Stats count items, not batches. Each scrape calls stats
// once; a panic in it fails that scrape with the panic as its error.
//
// NewPoolCollector panics if pool is empty or not valid UTF-8, or if stats
// is nil.
func NewPoolCollector(pool string, stats func() crew.Stats) *PoolCollector {
	checkName("NewPoolCollector", "pool", pool)
	checkStats("NewPoolCollector", stats)
	s := func(name, help string, kind prometheus.ValueType, v func(*crew.Stats) float64) series[crew.Stats] {
		return newSeries("pool_"+name, help, kind, "pool", pool, v)
	}
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	return &PoolCollector{c: statsCollector[crew.Stats]{stats: stats, series: []series[crew.Stats]{
		s("workers", "Worker goroutines alive.", gauge,
			func(s *crew.Stats) float64 { return float64(s.Workers) }),
		s("busy_workers", "Workers running a job.", gauge,
			func(s *crew.Stats) float64 { return float64(s.Busy) }),
		s("queued_jobs", "Accepted jobs not started yet.", gauge,
			func(s *crew.Stats) float64 { return float64(s.Queued) }),
		s("submitted_jobs_total", "Submit calls that accepted a job.", counter,
			func(s *crew.Stats) float64 { return float64(s.Submitted) }),
		s("rejected_submits_total", "Submit calls that returned an error.", counter,
			func(s *crew.Stats) float64 { return float64(s.Rejected) }),
		s("completed_jobs_total", "Jobs that ran to the end: success, error or panic.", counter,
			func(s *crew.Stats) float64 { return float64(s.Completed) }),
		s("failed_jobs_total", "Completed jobs that returned an error or panicked.", counter,
			func(s *crew.Stats) float64 { return float64(s.Failed) }),
		s("canceled_jobs_total", "Accepted jobs that never ran.", counter,
			func(s *crew.Stats) float64 { return float64(s.Canceled) }),
		s("refused_jobs_total", "Canceled jobs that a guard refused at start.", counter,
			func(s *crew.Stats) float64 { return float64(s.Refused) }),
	}}}
}

// Describe implements prometheus.Collector.
func (p *PoolCollector) Describe(ch chan<- *prometheus.Desc) { p.c.describe(ch) }

// Collect implements prometheus.Collector: it calls the stats func once.
func (p *PoolCollector) Collect(ch chan<- prometheus.Metric) { p.c.collect(ch) }
