package crewprom_test

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
	"github.com/crew-go/crew/crewprom"
)

func TestObserverSeries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		scenario(t, reg)
		// Waits: A 0, F 0 (left the queue), B 0.25s, C 2.25s (refused at
		// start); runs: A 0.25s, B 2s.
		want := `
# HELP crew_pool_job_wait_seconds Time jobs waited in the queue, until a worker took them or they left it without running.
# TYPE crew_pool_job_wait_seconds histogram
crew_pool_job_wait_seconds_bucket{pool="work",le="0.0001"} 2
crew_pool_job_wait_seconds_bucket{pool="work",le="0.00025"} 2
crew_pool_job_wait_seconds_bucket{pool="work",le="0.0005"} 2
crew_pool_job_wait_seconds_bucket{pool="work",le="0.001"} 2
crew_pool_job_wait_seconds_bucket{pool="work",le="0.0025"} 2
crew_pool_job_wait_seconds_bucket{pool="work",le="0.005"} 2
crew_pool_job_wait_seconds_bucket{pool="work",le="0.01"} 2
crew_pool_job_wait_seconds_bucket{pool="work",le="0.025"} 2
crew_pool_job_wait_seconds_bucket{pool="work",le="0.05"} 2
crew_pool_job_wait_seconds_bucket{pool="work",le="0.1"} 2
crew_pool_job_wait_seconds_bucket{pool="work",le="0.25"} 3
crew_pool_job_wait_seconds_bucket{pool="work",le="0.5"} 3
crew_pool_job_wait_seconds_bucket{pool="work",le="1"} 3
crew_pool_job_wait_seconds_bucket{pool="work",le="2.5"} 4
crew_pool_job_wait_seconds_bucket{pool="work",le="5"} 4
crew_pool_job_wait_seconds_bucket{pool="work",le="10"} 4
crew_pool_job_wait_seconds_bucket{pool="work",le="+Inf"} 4
crew_pool_job_wait_seconds_sum{pool="work"} 2.5
crew_pool_job_wait_seconds_count{pool="work"} 4
# HELP crew_pool_job_run_seconds Run time of the jobs that ran, from when their guards let them start.
# TYPE crew_pool_job_run_seconds histogram
crew_pool_job_run_seconds_bucket{pool="work",le="0.0001"} 0
crew_pool_job_run_seconds_bucket{pool="work",le="0.00025"} 0
crew_pool_job_run_seconds_bucket{pool="work",le="0.0005"} 0
crew_pool_job_run_seconds_bucket{pool="work",le="0.001"} 0
crew_pool_job_run_seconds_bucket{pool="work",le="0.0025"} 0
crew_pool_job_run_seconds_bucket{pool="work",le="0.005"} 0
crew_pool_job_run_seconds_bucket{pool="work",le="0.01"} 0
crew_pool_job_run_seconds_bucket{pool="work",le="0.025"} 0
crew_pool_job_run_seconds_bucket{pool="work",le="0.05"} 0
crew_pool_job_run_seconds_bucket{pool="work",le="0.1"} 0
crew_pool_job_run_seconds_bucket{pool="work",le="0.25"} 1
crew_pool_job_run_seconds_bucket{pool="work",le="0.5"} 1
crew_pool_job_run_seconds_bucket{pool="work",le="1"} 1
crew_pool_job_run_seconds_bucket{pool="work",le="2.5"} 2
crew_pool_job_run_seconds_bucket{pool="work",le="5"} 2
crew_pool_job_run_seconds_bucket{pool="work",le="10"} 2
crew_pool_job_run_seconds_bucket{pool="work",le="+Inf"} 2
crew_pool_job_run_seconds_sum{pool="work"} 2.25
crew_pool_job_run_seconds_count{pool="work"} 2
# HELP crew_pool_refusals_total Jobs refused, by what refused them (guard) and when (stage: submit or start).
# TYPE crew_pool_refusals_total counter
crew_pool_refusals_total{guard="breaker",pool="work",stage="start"} 1
crew_pool_refusals_total{guard="breaker",pool="work",stage="submit"} 1
crew_pool_refusals_total{guard="closed",pool="work",stage="submit"} 1
crew_pool_refusals_total{guard="ctx",pool="work",stage="submit"} 1
crew_pool_refusals_total{guard="input",pool="work",stage="submit"} 1
crew_pool_refusals_total{guard="queue",pool="work",stage="submit"} 1
`
		assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want),
			"crew_pool_job_wait_seconds", "crew_pool_job_run_seconds", "crew_pool_refusals_total"))
	})
}

// TestObserverCountsEvictionsAtStart: a job a priority queue evicts for a
// more urgent one never runs; it is a refusal by the queue, after Submit.
func TestObserverCountsEvictionsAtStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		reg := prometheus.NewPedanticRegistry()
		obs := crewprom.NewObserver("urgent")
		reg.MustRegister(obs)
		pool := crew.NewPriorityPool[int](1, crew.WithQueueSize(1), crew.WithNonBlocking(),
			crew.WithEvictLowest(), crew.WithObserver(obs.Observer()))
		running, err := pool.Submit(ctx, sleeper(time.Second, nil))
		require.NoError(t, err)
		synctest.Wait() // the worker took it: the queue is empty
		low, err := pool.Submit(ctx, sleeper(0, nil))
		require.NoError(t, err)
		high, err := pool.Submit(crew.WithPriority(ctx, 1), sleeper(0, nil))
		require.NoError(t, err)
		_, err = low.Wait(ctx)
		require.ErrorIs(t, err, crew.ErrQueueFull)
		for _, f := range []*crew.Future[int]{running, high} {
			_, err = f.Wait(ctx)
			require.NoError(t, err)
		}
		require.NoError(t, pool.Close(ctx))

		assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP crew_pool_refusals_total Jobs refused, by what refused them (guard) and when (stage: submit or start).
# TYPE crew_pool_refusals_total counter
crew_pool_refusals_total{guard="queue",pool="urgent",stage="start"} 1
`), "crew_pool_refusals_total"))
		assert.Equal(t, uint64(3), sampleCount(t, reg, "crew_pool_job_wait_seconds"), "every job waited")
		assert.Equal(t, uint64(2), sampleCount(t, reg, "crew_pool_job_run_seconds"), "the evicted job did not run")
	})
}

// sampleCount returns the count of observations of the histogram name in
// reg.
func sampleCount(t *testing.T, reg prometheus.Gatherer, name string) uint64 {
	t.Helper()
	return histogramOf(t, reg, name).GetSampleCount()
}

// sampleSum returns the sum of observations of the histogram name in reg.
func sampleSum(t *testing.T, reg prometheus.Gatherer, name string) float64 {
	t.Helper()
	return histogramOf(t, reg, name).GetSampleSum()
}

// histogramOf returns the one histogram of family name in reg.
func histogramOf(t *testing.T, reg prometheus.Gatherer, name string) *dto.Histogram {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			require.Len(t, mf.GetMetric(), 1)
			return mf.GetMetric()[0].GetHistogram()
		}
	}
	require.Failf(t, "no such histogram", "%s", name)
	return nil
}
