package crewprom_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
	"github.com/crew-go/crew/crewprom"
)

// errBoom is the error the scenario's failing job returns.
var errBoom = errors.New("boom")

// scenario runs, in the synctest bubble the caller is in, one worker
// behind a breaker that opens on the first failure, with every crewprom
// value registered on reg, and leaves the pool closed and the breaker
// open. Its fake clock starts at 2000-01-01 00:00:00 UTC (Unix 946684800).
//
//	t=0      A starts (waited 0), runs 0.25s, succeeds
//	         B, C and F queued; F's ctx ends: it leaves the queue (waited 0)
//	         E refused by the full queue, a nil job ("input") and an ended
//	         ctx ("ctx") refused
//	t=0.25s  B starts (waited 0.25s), runs 2s, fails: the circuit opens
//	t=2.25s  C (waited 2.25s) refused at start by the breaker;
//	         D refused at Submit by the breaker
//	         Close; a later Submit refused ("closed")
func scenario(t *testing.T, reg prometheus.Registerer) {
	t.Helper()
	ctx := context.Background()
	obs := crewprom.NewObserver("work")
	breaker := crew.NewBreaker(crew.BreakerConfig{FailureThreshold: 1, ResetTimeout: time.Minute})
	base := crew.NewPool[int](1, crew.WithQueueSize(3), crew.WithNonBlocking(), crew.WithObserver(obs.Observer()))
	pool := crew.Chain(base, breaker)
	reg.MustRegister(obs,
		crewprom.NewPoolCollector("work", pool.Stats),
		crewprom.NewBreakerCollector("downstream", breaker.Stats))

	a, err := pool.Submit(ctx, sleeper(250*time.Millisecond, nil))
	require.NoError(t, err)
	synctest.Wait() // the worker took A: B, C and F fill the queue
	b, err := pool.Submit(ctx, sleeper(2*time.Second, errBoom))
	require.NoError(t, err)
	c, err := pool.Submit(ctx, sleeper(0, nil))
	require.NoError(t, err)
	fctx, fcancel := context.WithCancel(ctx)
	f, err := pool.Submit(fctx, sleeper(0, nil))
	require.NoError(t, err)
	_, err = pool.Submit(ctx, sleeper(0, nil))
	require.ErrorIs(t, err, crew.ErrQueueFull)
	fcancel()
	_, err = f.Wait(ctx)
	require.ErrorIs(t, err, context.Canceled)
	_, err = pool.Submit(ctx, nil)
	require.Error(t, err)
	ended, cancel := context.WithCancel(ctx)
	cancel()
	_, err = pool.Submit(ended, sleeper(0, nil))
	require.ErrorIs(t, err, context.Canceled)

	_, err = a.Wait(ctx)
	require.NoError(t, err)
	_, err = b.Wait(ctx)
	require.ErrorIs(t, err, errBoom)
	_, err = c.Wait(ctx)
	require.ErrorIs(t, err, crew.ErrCircuitOpen)
	_, err = pool.Submit(ctx, sleeper(0, nil))
	require.ErrorIs(t, err, crew.ErrCircuitOpen)
	require.NoError(t, pool.Close(ctx))
	_, err = pool.Submit(ctx, sleeper(0, nil))
	require.ErrorIs(t, err, crew.ErrClosed)
}

// sleeper is a job that sleeps for d and returns err.
func sleeper(d time.Duration, err error) crew.Job[int] {
	return func(context.Context) (int, error) {
		time.Sleep(d)
		return 0, err
	}
}

// scrape serves reg's /metrics through promhttp, as a server would, and
// returns the body.
func scrape(t *testing.T, reg prometheus.Gatherer) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	require.Equal(t, 200, rec.Code, rec.Body.String())
	return rec.Body.String()
}

// lines returns the sample lines of body whose metric name starts with
// prefix.
func lines(body, prefix string) []string {
	var out []string
	for line := range strings.Lines(body) {
		if strings.HasPrefix(line, prefix) {
			out = append(out, strings.TrimSuffix(line, "\n"))
		}
	}
	return out
}
