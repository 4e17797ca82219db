package crewprom_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
	"github.com/crew-go/crew/crewprom"
)

func TestPoolCollectorSeries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		scenario(t, reg)
		// Accepted A, B, C, F; refused E (queue), nil, ended ctx, D
		// (breaker), after Close; A and B ran, B failed; F left the queue,
		// C was refused at start.
		want := `
# HELP crew_pool_workers Worker goroutines alive.
# TYPE crew_pool_workers gauge
crew_pool_workers{pool="work"} 0
# HELP crew_pool_busy_workers Workers running a job.
# TYPE crew_pool_busy_workers gauge
crew_pool_busy_workers{pool="work"} 0
# HELP crew_pool_queued_jobs Accepted jobs not started yet.
# TYPE crew_pool_queued_jobs gauge
crew_pool_queued_jobs{pool="work"} 0
# HELP crew_pool_submitted_jobs_total Submit calls that accepted a job.
# TYPE crew_pool_submitted_jobs_total counter
crew_pool_submitted_jobs_total{pool="work"} 4
# HELP crew_pool_rejected_submits_total Submit calls that returned an error.
# TYPE crew_pool_rejected_submits_total counter
crew_pool_rejected_submits_total{pool="work"} 5
# HELP crew_pool_completed_jobs_total Jobs that ran to the end: success, error or panic.
# TYPE crew_pool_completed_jobs_total counter
crew_pool_completed_jobs_total{pool="work"} 2
# HELP crew_pool_failed_jobs_total Completed jobs that returned an error or panicked.
# TYPE crew_pool_failed_jobs_total counter
crew_pool_failed_jobs_total{pool="work"} 1
# HELP crew_pool_canceled_jobs_total Accepted jobs that never ran.
# TYPE crew_pool_canceled_jobs_total counter
crew_pool_canceled_jobs_total{pool="work"} 2
# HELP crew_pool_refused_jobs_total Canceled jobs that a guard refused at start.
# TYPE crew_pool_refused_jobs_total counter
crew_pool_refused_jobs_total{pool="work"} 1
`
		assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want),
			"crew_pool_workers", "crew_pool_busy_workers", "crew_pool_queued_jobs",
			"crew_pool_submitted_jobs_total", "crew_pool_rejected_submits_total",
			"crew_pool_completed_jobs_total", "crew_pool_failed_jobs_total",
			"crew_pool_canceled_jobs_total", "crew_pool_refused_jobs_total"))
	})
}

// TestPoolCollectorReadsAtScrape: the gauges are what Stats says at the
// moment of the scrape, a running job and a queued one included.
func TestPoolCollectorReadsAtScrape(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		pool := crew.NewPool[int](1)
		c := crewprom.NewPoolCollector("live", pool.Stats)
		release := make(chan struct{})
		for range 2 {
			_, err := pool.Submit(ctx, func(context.Context) (int, error) { <-release; return 0, nil })
			require.NoError(t, err)
		}
		synctest.Wait()
		assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(`
# HELP crew_pool_busy_workers Workers running a job.
# TYPE crew_pool_busy_workers gauge
crew_pool_busy_workers{pool="live"} 1
# HELP crew_pool_queued_jobs Accepted jobs not started yet.
# TYPE crew_pool_queued_jobs gauge
crew_pool_queued_jobs{pool="live"} 1
`), "crew_pool_busy_workers", "crew_pool_queued_jobs"))
		close(release)
		require.NoError(t, pool.Close(ctx))
		assert.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(`
# HELP crew_pool_busy_workers Workers running a job.
# TYPE crew_pool_busy_workers gauge
crew_pool_busy_workers{pool="live"} 0
# HELP crew_pool_completed_jobs_total Jobs that ran to the end: success, error or panic.
# TYPE crew_pool_completed_jobs_total counter
crew_pool_completed_jobs_total{pool="live"} 2
`), "crew_pool_busy_workers", "crew_pool_completed_jobs_total"))
	})
}

// TestCollectorContainsAPanickingStats: a panic in the stats func fails
// the scrape with an error naming it, and does not end the process.
func TestCollectorContainsAPanickingStats(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		crewprom.NewPoolCollector("bad", func() crew.Stats { panic("no stats today") }),
		crewprom.NewBreakerCollector("bad", func() crew.BreakerStats { panic("nor breaker stats") }))
	_, err := reg.Gather()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no stats today")
	assert.Contains(t, err.Error(), "nor breaker stats")
}

func TestConstructorsPanicOnMisuse(t *testing.T) {
	stats := func() crew.Stats { return crew.Stats{} }
	bstats := func() crew.BreakerStats { return crew.BreakerStats{} }
	for _, tt := range []struct {
		name string
		give func()
		want string
	}{
		{"observer without a name", func() { crewprom.NewObserver("") },
			"crewprom: NewObserver: the pool name is empty"},
		{"observer with a name not UTF-8", func() { crewprom.NewObserver("\xff") },
			`crewprom: NewObserver: the pool name "\xff" is not valid UTF-8`},
		{"pool without a name", func() { crewprom.NewPoolCollector("", stats) },
			"crewprom: NewPoolCollector: the pool name is empty"},
		{"pool without stats", func() { crewprom.NewPoolCollector("p", nil) },
			"crewprom: NewPoolCollector: the stats func is nil"},
		{"breaker without a name", func() { crewprom.NewBreakerCollector("", bstats) },
			"crewprom: NewBreakerCollector: the breaker name is empty"},
		{"breaker without stats", func() { crewprom.NewBreakerCollector("b", nil) },
			"crewprom: NewBreakerCollector: the stats func is nil"},
		{"no buckets", func() { crewprom.WithWaitBuckets() },
			"crewprom: WithWaitBuckets: no buckets"},
		{"NaN bucket", func() { crewprom.WithRunBuckets(1, math.NaN()) },
			"crewprom: WithRunBuckets: bucket 1 is NaN"},
		{"buckets not increasing", func() { crewprom.WithRunBuckets(1, 2, 2) },
			"crewprom: WithRunBuckets: buckets not strictly increasing (2 after 2)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.PanicsWithValue(t, tt.want, tt.give)
		})
	}
}

// TestRegisteringTwiceIsRefused: a second collector of the same kind and
// name is a duplicate the registry refuses; another name is welcome.
func TestRegisteringTwiceIsRefused(t *testing.T) {
	stats := func() crew.Stats { return crew.Stats{} }
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(crewprom.NewPoolCollector("a", stats)))
	require.NoError(t, reg.Register(crewprom.NewObserver("a")))
	require.NoError(t, reg.Register(crewprom.NewPoolCollector("b", stats)))
	require.NoError(t, reg.Register(crewprom.NewObserver("b")))
	assert.Error(t, reg.Register(crewprom.NewPoolCollector("a", stats)))
	assert.Error(t, reg.Register(crewprom.NewObserver("b")))
}

// TestBatcherExportsItems: a Batcher takes the same Observer and
// PoolCollector as a pool, and they count items: each waits until its
// batch starts and runs as long as its batch.
func TestBatcherExportsItems(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		reg := prometheus.NewPedanticRegistry()
		obs := crewprom.NewObserver("rows")
		insert := func(_ context.Context, rows []int) ([]int, error) {
			time.Sleep(time.Second)
			return rows, nil
		}
		b := crew.NewBatcher(insert, crew.WithBatchSize(2), crew.WithBatchWait(time.Minute),
			crew.WithObserver(obs.Observer()))
		reg.MustRegister(obs, crewprom.NewPoolCollector("rows", b.Stats))
		var fs []*crew.Future[int]
		for i := range 3 {
			f, err := b.Submit(ctx, i)
			require.NoError(t, err)
			fs = append(fs, f)
		}
		for _, f := range fs[:2] {
			_, err := f.Wait(ctx)
			require.NoError(t, err)
		}
		require.NoError(t, b.Close(ctx)) // flushes the third row at t=1s
		_, err := fs[2].Wait(ctx)
		require.NoError(t, err)

		assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP crew_pool_completed_jobs_total Jobs that ran to the end: success, error or panic.
# TYPE crew_pool_completed_jobs_total counter
crew_pool_completed_jobs_total{pool="rows"} 3
`), "crew_pool_completed_jobs_total"))
		assert.Equal(t, uint64(3), sampleCount(t, reg, "crew_pool_job_run_seconds"))
		assert.Equal(t, 3.0, sampleSum(t, reg, "crew_pool_job_run_seconds"), "three items of batches of 1s")
		assert.Equal(t, 1.0, sampleSum(t, reg, "crew_pool_job_wait_seconds"), "the third row waited for the first batch")
	})
}
