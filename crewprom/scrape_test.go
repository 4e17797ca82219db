package crewprom_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
	"github.com/crew-go/crew/crewprom"
)

// wantFamilies are every family the scenario's registry exports, with its
// type: the names are the module's API.
var wantFamilies = map[string]dto.MetricType{
	"crew_pool_job_wait_seconds":       dto.MetricType_HISTOGRAM,
	"crew_pool_job_run_seconds":        dto.MetricType_HISTOGRAM,
	"crew_pool_refusals_total":         dto.MetricType_COUNTER,
	"crew_pool_workers":                dto.MetricType_GAUGE,
	"crew_pool_busy_workers":           dto.MetricType_GAUGE,
	"crew_pool_queued_jobs":            dto.MetricType_GAUGE,
	"crew_pool_submitted_jobs_total":   dto.MetricType_COUNTER,
	"crew_pool_rejected_submits_total": dto.MetricType_COUNTER,
	"crew_pool_completed_jobs_total":   dto.MetricType_COUNTER,
	"crew_pool_failed_jobs_total":      dto.MetricType_COUNTER,
	"crew_pool_canceled_jobs_total":    dto.MetricType_COUNTER,
	"crew_pool_refused_jobs_total":     dto.MetricType_COUNTER,

	"crew_breaker_state":                           dto.MetricType_GAUGE,
	"crew_breaker_ramping_up":                      dto.MetricType_GAUGE,
	"crew_breaker_state_changed_timestamp_seconds": dto.MetricType_GAUGE,
	"crew_breaker_open_until_timestamp_seconds":    dto.MetricType_GAUGE,
	"crew_breaker_window_calls":                    dto.MetricType_GAUGE,
	"crew_breaker_window_failures":                 dto.MetricType_GAUGE,
	"crew_breaker_consecutive_failures":            dto.MetricType_GAUGE,
	"crew_breaker_calls_total":                     dto.MetricType_COUNTER,
	"crew_breaker_failures_total":                  dto.MetricType_COUNTER,
	"crew_breaker_trips_total":                     dto.MetricType_COUNTER,
	"crew_breaker_probes_total":                    dto.MetricType_COUNTER,
	"crew_breaker_probe_successes_total":           dto.MetricType_COUNTER,
	"crew_breaker_probe_failures_total":            dto.MetricType_COUNTER,
	"crew_breaker_refusals_total":                  dto.MetricType_COUNTER,
	"crew_breaker_callback_panics_total":           dto.MetricType_COUNTER,
}

// TestMetricsPageParsesAndLints: what promhttp serves for every crewprom
// value, with every series present (the scenario refuses jobs at Submit
// and at start), parses with prometheus/common's text parser under the
// strict legacy name rules, holds exactly the documented families with
// their types, and passes promlint.
func TestMetricsPageParsesAndLints(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		scenario(t, reg)
		body := scrape(t, reg)

		families := parse(t, body)
		got := map[string]dto.MetricType{}
		for name, mf := range families {
			got[name] = mf.GetType()
			assert.NotEmpty(t, mf.GetHelp(), name)
		}
		assert.Equal(t, wantFamilies, got)

		problems, err := promlint.New(strings.NewReader(body)).Lint()
		require.NoError(t, err)
		assert.Empty(t, problems)
		problems, err = testutil.GatherAndLint(reg)
		require.NoError(t, err)
		assert.Empty(t, problems)
	})
}

// TestMetricsOverHTTP: a real server on loopback, a real pool and breaker,
// scraped as Prometheus would.
func TestMetricsOverHTTP(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	obs := crewprom.NewObserver("http")
	breaker := crew.NewBreaker(crew.BreakerConfig{})
	pool := crew.Chain(crew.NewPool[int](2, crew.WithObserver(obs.Observer())), breaker)
	reg.MustRegister(obs, crewprom.NewPoolCollector("http", pool.Stats),
		crewprom.NewBreakerCollector("http", breaker.Stats))
	for range 10 {
		_, err := crew.Do(ctx, pool, sleeper(0, nil))
		require.NoError(t, err)
	}
	breaker.Trip()
	_, err := pool.Submit(ctx, sleeper(0, nil))
	require.ErrorIs(t, err, crew.ErrCircuitOpen)
	require.NoError(t, pool.Close(ctx))

	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/plain")
	body := string(raw)

	families := parse(t, body)
	require.Contains(t, families, "crew_pool_job_run_seconds")
	assert.Equal(t, uint64(10), families["crew_pool_job_run_seconds"].GetMetric()[0].GetHistogram().GetSampleCount())
	assert.Contains(t, body, `crew_pool_completed_jobs_total{pool="http"} 10`)
	assert.Contains(t, body, `crew_pool_refusals_total{guard="breaker",pool="http",stage="submit"} 1`)
	assert.Contains(t, body, `crew_breaker_state{breaker="http",state="open"} 1`)
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	require.NoError(t, err)
	assert.Empty(t, problems)
}

// parse parses a /metrics page with prometheus/common's text parser,
// legacy (strict) name rules.
func parse(t *testing.T, body string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(strings.NewReader(body))
	require.NoError(t, err)
	return families
}
