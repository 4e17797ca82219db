package main

import (
	"fmt"
	"net/http"

	"github.com/crew-go/crew"
)

// metrics serves the pools' Stats and the breaker's state in the Prometheus
// text format, written by hand from what crew exports. This file is the one
// place that knows about metrics: the crewprom module (collectors for
// pools, breakers and limiters, with histograms) replaces it with a
// registry and promhttp.Handler.
func (a *app) metrics() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		pools := []struct {
			name  string
			stats crew.Stats
		}{{"pay", a.pay.Stats()}, {"search", a.search.Stats()}}
		series := func(name, help, kind string, v func(crew.Stats) uint64) {
			fmt.Fprintf(w, "# HELP crew_%s %s\n# TYPE crew_%s %s\n", name, help, name, kind)
			for _, p := range pools {
				fmt.Fprintf(w, "crew_%s{pool=%q} %d\n", name, p.name, v(p.stats))
			}
		}
		series("workers", "Worker goroutines alive.", "gauge",
			func(s crew.Stats) uint64 { return uint64(s.Workers) })
		series("busy", "Workers running a job.", "gauge",
			func(s crew.Stats) uint64 { return uint64(s.Busy) })
		series("queued", "Accepted jobs not started yet.", "gauge",
			func(s crew.Stats) uint64 { return uint64(s.Queued) })
		series("submitted_total", "Submit calls that accepted a job.", "counter",
			func(s crew.Stats) uint64 { return s.Submitted })
		series("rejected_total", "Submit calls that returned an error.", "counter",
			func(s crew.Stats) uint64 { return s.Rejected })
		series("completed_total", "Jobs that ran to the end.", "counter",
			func(s crew.Stats) uint64 { return s.Completed })
		series("failed_total", "Completed jobs that failed or panicked.", "counter",
			func(s crew.Stats) uint64 { return s.Failed })
		series("canceled_total", "Accepted jobs that never ran.", "counter",
			func(s crew.Stats) uint64 { return s.Canceled })
		fmt.Fprintf(w, "# HELP crew_breaker_state Circuit state: 0 closed, 1 open, 2 half-open.\n"+
			"# TYPE crew_breaker_state gauge\ncrew_breaker_state{breaker=\"pay\"} %d\n", a.breaker.State())
	})
}
