package crew_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

// Regression tests, each named after the bug it pins.

// TestCloseGivingUpOnAJobWaitingForATokenSaysErrClosed: a job a worker had
// taken but that still waited in the limiter's Start when Close gave up
// resolved with context.Canceled, though it never ran and its caller's ctx
// never ended (and Handler answered 500 instead of 503).
func TestCloseGivingUpOnAJobWaitingForATokenSaysErrClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.Chain(crew.NewPool[int](2), crew.NewRateLimiter(1, 1))
		_, err := crew.Do(context.Background(), p, value(1)) // takes the token
		require.NoError(t, err)
		f, err := p.Submit(context.Background(), value(2))
		require.NoError(t, err)
		synctest.Wait() // its worker waits for the next token
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		require.ErrorIs(t, p.Close(ctx), context.DeadlineExceeded)
		_, err = f.Wait(context.Background())
		assert.ErrorIs(t, err, crew.ErrClosed)
		assert.NotErrorIs(t, err, context.Canceled)
		assert.Equal(t, http.StatusServiceUnavailable, crew.StatusCode(err))
		s := p.Stats()
		assert.EqualValues(t, 1, s.Canceled)
		assert.Zero(t, s.Refused, "Close took it, not a guard")
	})
}

// TestJobRefusedAtStartCountsAsRefused: guard refusals at start were counted
// as Canceled only, which reads like a ctx cancellation.
func TestJobRefusedAtStartCountsAsRefused(t *testing.T) {
	b := crew.NewBreaker(crew.BreakerConfig{})
	p := crew.Chain(crew.NewPool[int](1), b)
	blk := occupy(t, p)
	f, err := p.Submit(context.Background(), value(1)) // queued while closed
	require.NoError(t, err)
	b.Trip()
	close(blk.release)
	_, err = f.Wait(context.Background())
	require.ErrorIs(t, err, crew.ErrCircuitOpen)
	require.NoError(t, p.Close(context.Background()))
	s := p.Stats()
	assert.EqualValues(t, 1, s.Canceled)
	assert.EqualValues(t, 1, s.Refused)
	assert.Equal(t, s.Submitted, s.Completed+s.Canceled)
}

// TestFullQueueRefusalCarriesRetryAfter: a full queue's refusal said
// nothing of when to come back, and Handler sent 503 without Retry-After.
// The estimate is the recent time per job leaving the queue, times the
// Submits served before this one.
func TestFullQueueRefusalCarriesRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.NewPool[int](1, crew.WithQueueSize(1), crew.WithNonBlocking())
		sleepy := func(ctx context.Context) (int, error) {
			time.Sleep(10 * time.Millisecond)
			return 0, nil
		}
		blk := occupy(t, p)
		_, err := p.Submit(context.Background(), value(0))
		require.NoError(t, err)
		_, err = p.Submit(context.Background(), value(0))
		var rej *crew.RejectedError
		require.ErrorAs(t, err, &rej)
		assert.Zero(t, rej.RetryAfter, "unknown before any job left")
		close(blk.release)
		synctest.Wait()
		for range 100 {
			_, err := crew.Do(context.Background(), p, sleepy)
			require.NoError(t, err)
		}
		blk = occupy(t, p)
		_, err = p.Submit(context.Background(), sleepy)
		require.NoError(t, err)
		_, err = p.Submit(context.Background(), value(0))
		require.ErrorAs(t, err, &rej)
		assert.Equal(t, "queue", rej.Guard)
		assert.Equal(t, 10*time.Millisecond, rej.RetryAfter, "one job's time: jobs left every 10ms")
		close(blk.release)
		require.NoError(t, p.Close(context.Background()))
	})
}

// TestHandlerFullQueueSendsRetryAfter: through Handler, a full queue's 503
// carries a Retry-After header, as the README promises.
func TestHandlerFullQueueSendsRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.NewPool[struct{}](1, crew.WithQueueSize(0), crew.WithNonBlocking())
		hold := make(chan struct{})
		h := crew.Handler(p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/hold" {
				<-hold
			}
			time.Sleep(time.Second)
		}))
		serve := func(path string) *httptest.ResponseRecorder {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
			return w
		}
		for range 3 {
			require.Equal(t, http.StatusOK, serve("/").Code)
		}
		held := make(chan int)
		go func() { held <- serve("/hold").Code }()
		synctest.Wait()
		w := serve("/")
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		assert.Equal(t, "1", w.Header().Get("Retry-After"))
		close(hold)
		assert.Equal(t, http.StatusOK, <-held)
		require.NoError(t, p.Close(context.Background()))
	})
}

// TestHandlerAfterShutdownIs503: a request after the pool's Close got the
// guard's refusal (429 with Retry-After from a limiter) instead of 503.
func TestHandlerAfterShutdownIs503(t *testing.T) {
	lim := crew.NewRateLimiter(1, 1, crew.WithMaxWait(0))
	p := crew.Chain(crew.NewPool[struct{}](1), lim)
	h := crew.Handler(p, http.NotFoundHandler())
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil)) // takes the token
	require.Equal(t, http.StatusNotFound, w.Code)
	require.NoError(t, p.Close(context.Background()))
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Empty(t, w.Header().Get("Retry-After"))
}

// TestMiddlewareWriterIsAFlusher: the ResponseWriter that Middleware passed
// on was not an http.Flusher, so SSE code doing w.(http.Flusher) stopped
// streaming.
func TestMiddlewareWriterIsAFlusher(t *testing.T) {
	p := crew.NewPool[struct{}](1)
	defer p.Close(context.Background())
	h := crew.Middleware(p)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := w.(http.Flusher)
		require.True(t, ok)
		_, _ = w.Write([]byte("data: 1\n\n"))
		f.Flush()
		_, ok = w.(http.Hijacker)
		assert.True(t, ok)
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/events", nil))
	assert.True(t, w.Flushed)
	assert.Equal(t, "data: 1\n\n", w.Body.String())
}
