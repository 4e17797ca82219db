package crewprom_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/crew-go/crew"
	"github.com/crew-go/crew/crewprom"
)

// Export a pool: its Observer for the queue-wait and run-time histograms
// and the refusals, its Stats for the rest.
func Example() {
	ctx := context.Background()
	reg := prometheus.NewRegistry()

	obs := crewprom.NewObserver("resize")
	pool := crew.NewPool[int](4, crew.WithObserver(obs.Observer()))
	reg.MustRegister(obs, crewprom.NewPoolCollector("resize", pool.Stats))
	// A server serves it: http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	for i := range 3 {
		crew.Do(ctx, pool, func(context.Context) (int, error) {
			if i == 2 {
				return 0, fmt.Errorf("image %d: corrupt", i)
			}
			return i, nil
		})
	}
	pool.Close(ctx)

	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for line := range strings.Lines(rec.Body.String()) {
		for _, name := range []string{"crew_pool_submitted", "crew_pool_failed", "crew_pool_job_run_seconds_count"} {
			if strings.HasPrefix(line, name) {
				fmt.Print(line)
			}
		}
	}
	// Output:
	// crew_pool_failed_jobs_total{pool="resize"} 1
	// crew_pool_job_run_seconds_count{pool="resize"} 3
	// crew_pool_submitted_jobs_total{pool="resize"} 3
}

// Export a breaker: one series per state, the one it is in set to 1.
func ExampleNewBreakerCollector() {
	reg := prometheus.NewRegistry()
	breaker := crew.NewBreaker(crew.BreakerConfig{Name: "payments"})
	reg.MustRegister(crewprom.NewBreakerCollector("payments", breaker.Stats))
	breaker.Trip()

	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for line := range strings.Lines(rec.Body.String()) {
		if strings.HasPrefix(line, "crew_breaker_state{") || strings.HasPrefix(line, "crew_breaker_trips") {
			fmt.Print(line)
		}
	}
	// Output:
	// crew_breaker_state{breaker="payments",state="closed"} 0
	// crew_breaker_state{breaker="payments",state="half-open"} 0
	// crew_breaker_state{breaker="payments",state="open"} 1
	// crew_breaker_trips_total{breaker="payments"} 1
}
