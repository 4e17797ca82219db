package crewprom_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/crew-go/crew"
	"github.com/crew-go/crew/crewprom"
)

// TestLimiterCollectorSeries: 2 starts a second, burst 1, one worker.
//
//	t=0     A takes the token and starts; B queued
//	        C, whose deadline (0.1s) comes before any token, is refused at Submit
//	t=0     B takes the worker after A and waits for its token
//	        D queued, and its ctx ended while queued (abandoned)
//	t=0.5s  B starts with its token (waited)
func TestLimiterCollectorSeries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		reg := prometheus.NewPedanticRegistry()
		lim := crew.NewRateLimiter(2, 1)
		pool := crew.Chain(crew.NewPool[int](1), lim)
		reg.MustRegister(crewprom.NewLimiterCollector("api", lim.Stats))

		a, err := pool.Submit(ctx, sleeper(0, nil))
		require.NoError(t, err)
		synctest.Wait()
		b, err := pool.Submit(ctx, sleeper(0, nil))
		require.NoError(t, err)
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err = pool.Submit(short, sleeper(0, nil))
		require.ErrorIs(t, err, crew.ErrRateLimited)
		synctest.Wait() // B waits for its token in Start
		assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP crew_limiter_waiting_jobs Admitted jobs waiting for a token now.
# TYPE crew_limiter_waiting_jobs gauge
crew_limiter_waiting_jobs{limiter="api"} 1
`), "crew_limiter_waiting_jobs"))
		dctx, dcancel := context.WithCancel(ctx)
		d, err := pool.Submit(dctx, sleeper(0, nil))
		require.NoError(t, err)
		dcancel()
		_, err = d.Wait(ctx)
		require.ErrorIs(t, err, context.Canceled)
		for _, f := range []*crew.Future[int]{a, b} {
			_, err = f.Wait(ctx)
			require.NoError(t, err)
		}
		require.NoError(t, pool.Close(ctx))

		want := `
# HELP crew_limiter_rate The limit now, in job starts per second.
# TYPE crew_limiter_rate gauge
crew_limiter_rate{limiter="api"} 2
# HELP crew_limiter_burst The bucket size now.
# TYPE crew_limiter_burst gauge
crew_limiter_burst{limiter="api"} 1
# HELP crew_limiter_admitted_jobs_total Jobs let through at Submit.
# TYPE crew_limiter_admitted_jobs_total counter
crew_limiter_admitted_jobs_total{limiter="api"} 3
# HELP crew_limiter_refused_jobs_total Jobs refused with ErrRateLimited, at Submit (stage=submit) or as they were about to start (stage=start).
# TYPE crew_limiter_refused_jobs_total counter
crew_limiter_refused_jobs_total{limiter="api",stage="start"} 0
crew_limiter_refused_jobs_total{limiter="api",stage="submit"} 1
# HELP crew_limiter_started_jobs_total Jobs that started with a token.
# TYPE crew_limiter_started_jobs_total counter
crew_limiter_started_jobs_total{limiter="api"} 2
# HELP crew_limiter_waited_jobs_total Started jobs that waited for their token.
# TYPE crew_limiter_waited_jobs_total counter
crew_limiter_waited_jobs_total{limiter="api"} 1
# HELP crew_limiter_gave_back_tokens_total Tokens given back: a later guard refused the job at its start.
# TYPE crew_limiter_gave_back_tokens_total counter
crew_limiter_gave_back_tokens_total{limiter="api"} 0
# HELP crew_limiter_canceled_jobs_total Jobs whose ctx ended before or while they waited for a token.
# TYPE crew_limiter_canceled_jobs_total counter
crew_limiter_canceled_jobs_total{limiter="api"} 0
# HELP crew_limiter_abandoned_jobs_total Admitted jobs that never reached their start.
# TYPE crew_limiter_abandoned_jobs_total counter
crew_limiter_abandoned_jobs_total{limiter="api"} 1
# HELP crew_limiter_pending_jobs Jobs admitted and not yet gone.
# TYPE crew_limiter_pending_jobs gauge
crew_limiter_pending_jobs{limiter="api"} 0
# HELP crew_limiter_waiting_jobs Admitted jobs waiting for a token now.
# TYPE crew_limiter_waiting_jobs gauge
crew_limiter_waiting_jobs{limiter="api"} 0
`
		var names []string
		for line := range strings.Lines(want) {
			if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
				names = append(names, strings.Fields(name)[0])
			}
		}
		assert.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), names...))
		body := scrape(t, reg)
		assert.Len(t, lines(body, "crew_limiter_"), len(lines(want, "crew_limiter_")), "every limiter series is in want")
		parse(t, body)
		problems, err := promlint.New(strings.NewReader(body)).Lint()
		require.NoError(t, err)
		assert.Empty(t, problems)
	})
}

// TestLimiterCollectorUnlimited: rate.Inf is +Inf on the gauge, not the
// largest float64.
func TestLimiterCollectorUnlimited(t *testing.T) {
	lim := crew.NewRateLimiter(rate.Inf, 1)
	assert.NoError(t, testutil.CollectAndCompare(crewprom.NewLimiterCollector("free", lim.Stats), strings.NewReader(`
# HELP crew_limiter_rate The limit now, in job starts per second.
# TYPE crew_limiter_rate gauge
crew_limiter_rate{limiter="free"} +Inf
`), "crew_limiter_rate"))
}

func TestNewLimiterCollectorPanicsOnMisuse(t *testing.T) {
	assert.PanicsWithValue(t, "crewprom: NewLimiterCollector: the limiter name is empty", func() {
		crewprom.NewLimiterCollector("", func() crew.RateLimiterStats { return crew.RateLimiterStats{} })
	})
	assert.PanicsWithValue(t, "crewprom: NewLimiterCollector: the stats func is nil", func() {
		crewprom.NewLimiterCollector("l", nil)
	})
}
