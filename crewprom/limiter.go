package crewprom

import (
	"math"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/crew-go/crew"
)

// LimiterCollector exports a rate limiter's crew.RateLimiterStats, read
// when the registry is scraped. Create it with NewLimiterCollector. It is a
// prometheus.Collector and is safe for concurrent use.
type LimiterCollector struct {
	c statsCollector[crew.RateLimiterStats]
}

// NewLimiterCollector returns a collector of the RateLimiterStats that
// stats returns (a *crew.RateLimiter's Stats method), with the label
// limiter=limiter:
//
//   - crew_limiter_rate (gauge): the limit now, in job starts per second
//     (+Inf for rate.Inf).
//   - crew_limiter_burst (gauge): the bucket size now.
//   - crew_limiter_admitted_jobs_total (counter): jobs let through at
//     Submit.
//   - crew_limiter_refused_jobs_total{stage} (counter): jobs refused with
//     crew.ErrRateLimited, stage="submit" at Submit, stage="start" as a
//     worker was about to start them (the token would come too late).
//   - crew_limiter_started_jobs_total (counter): jobs that started with a
//     token; crew_limiter_waited_jobs_total (counter): of them, those that
//     waited for it.
//   - crew_limiter_canceled_jobs_total (counter): jobs whose ctx ended
//     before or while they waited for a token.
//   - crew_limiter_abandoned_jobs_total (counter): admitted jobs that never
//     reached their start: their ctx ended or Close gave up while they were
//     queued, the queue refused them, or an earlier guard refused them.
//   - crew_limiter_pending_jobs (gauge): jobs admitted and not yet gone.
//   - crew_limiter_waiting_jobs (gauge): of them, those waiting for a token
//     now.
//
// Each scrape calls stats once; a panic in it fails that scrape with the
// panic as its error.
//
// NewLimiterCollector panics if limiter is empty or not valid UTF-8, or if
// stats is nil.
func NewLimiterCollector(limiter string, stats func() crew.RateLimiterStats) *LimiterCollector {
	checkName("NewLimiterCollector", "limiter", limiter)
	checkStats("NewLimiterCollector", stats)
	type ls = crew.RateLimiterStats
	s := func(name, help string, kind prometheus.ValueType, v func(*ls) float64) series[ls] {
		return newSeries("limiter_"+name, help, kind, "limiter", limiter, v)
	}
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	refused := prometheus.NewDesc("crew_limiter_refused_jobs_total",
		"Jobs refused with ErrRateLimited, at Submit (stage=submit) or as they were about to start (stage=start).",
		[]string{"stage"}, prometheus.Labels{"limiter": limiter})
	c := statsCollector[ls]{stats: stats, series: []series[ls]{
		s("rate", "The limit now, in job starts per second.", gauge,
			func(s *ls) float64 { return limitValue(s.Limit) }),
		s("burst", "The bucket size now.", gauge,
			func(s *ls) float64 { return float64(s.Burst) }),
		s("admitted_jobs_total", "Jobs let through at Submit.", counter,
			func(s *ls) float64 { return float64(s.Admitted) }),
		s("started_jobs_total", "Jobs that started with a token.", counter,
			func(s *ls) float64 { return float64(s.Started) }),
		s("waited_jobs_total", "Started jobs that waited for their token.", counter,
			func(s *ls) float64 { return float64(s.Waited) }),
		s("gave_back_tokens_total", "Tokens given back: a later guard refused the job at its start.", counter,
			func(s *ls) float64 { return float64(s.GaveBack) }),
		s("canceled_jobs_total", "Jobs whose ctx ended before or while they waited for a token.", counter,
			func(s *ls) float64 { return float64(s.Canceled) }),
		s("abandoned_jobs_total", "Admitted jobs that never reached their start.", counter,
			func(s *ls) float64 { return float64(s.Abandoned) }),
		s("pending_jobs", "Jobs admitted and not yet gone.", gauge,
			func(s *ls) float64 { return float64(s.Pending) }),
		s("waiting_jobs", "Admitted jobs waiting for a token now.", gauge,
			func(s *ls) float64 { return float64(s.Waiting) }),
	}}
	c.extraDescs = []*prometheus.Desc{refused}
	c.extra = func(s *ls, ch chan<- prometheus.Metric) {
		ch <- prometheus.MustNewConstMetric(refused, counter, float64(s.RefusedAtSubmit), "submit")
		ch <- prometheus.MustNewConstMetric(refused, counter, float64(s.RefusedAtStart), "start")
	}
	return &LimiterCollector{c: c}
}

// Describe implements prometheus.Collector.
func (l *LimiterCollector) Describe(ch chan<- *prometheus.Desc) { l.c.describe(ch) }

// Collect implements prometheus.Collector: it calls the stats func once.
func (l *LimiterCollector) Collect(ch chan<- prometheus.Metric) { l.c.collect(ch) }

// limitValue is limit as the gauge shows it: rate.Inf (the largest
// float64) is +Inf.
func limitValue(limit rate.Limit) float64 {
	if limit == rate.Inf {
		return math.Inf(1)
	}
	return float64(limit)
}
