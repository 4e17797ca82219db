package crew_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

func TestHandlerRunsRequestsOnThePool(t *testing.T) {
	p := crew.NewPool[struct{}](2)
	srv := httptest.NewServer(crew.Handler(p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+r.URL.Path)
	})))
	defer srv.Close()
	resp, body := get(t, srv.URL+"/x")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "hello /x", body)
	require.NoError(t, p.Close(context.Background()))
	require.EqualValues(t, 1, p.Stats().Completed)
}

func TestHandlerMapsRejections(t *testing.T) {
	tests := []struct {
		name       string
		give       error
		wantStatus int
		wantRetry  string
	}{
		{"rate limited", &crew.RejectedError{Guard: "ratelimit", RetryAfter: 1500 * time.Millisecond, Err: crew.ErrRateLimited}, 429, "2"},
		{"circuit open", &crew.RejectedError{Guard: "breaker", RetryAfter: 30 * time.Second, Err: crew.ErrCircuitOpen}, 503, "30"},
		{"queue full", &crew.RejectedError{Guard: "queue", Err: crew.ErrQueueFull}, 503, ""},
		{"closed", crew.ErrClosed, 503, ""},
		{"other", errors.New("no"), 500, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := crew.Chain[struct{}](crew.NewPool[struct{}](1), refuseGuard{tt.give})
			var ran atomic.Bool
			srv := httptest.NewServer(crew.Handler(p, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
				ran.Store(true)
			})))
			defer srv.Close()
			resp, _ := get(t, srv.URL)
			assert.Equal(t, tt.wantStatus, resp.StatusCode)
			assert.Equal(t, tt.wantRetry, resp.Header.Get("Retry-After"))
			assert.False(t, ran.Load())
			require.NoError(t, p.Close(context.Background()))
		})
	}
}

func TestHandlerPanicIs500(t *testing.T) {
	p := crew.NewPool[struct{}](1)
	srv := httptest.NewServer(crew.Handler(p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("handler bug")
		}
		io.WriteString(w, "ok")
	})))
	defer srv.Close()
	resp, _ := get(t, srv.URL+"/panic")
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	resp, body := get(t, srv.URL+"/fine") // the server and the pool live on
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "ok", body)
	require.NoError(t, p.Close(context.Background()))
	require.EqualValues(t, 1, p.Stats().Failed)
}

func TestHandlerClientGoneWhileQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.NewPool[struct{}](1)
		release := make(chan struct{})
		_, err := p.Submit(context.Background(), func(context.Context) (struct{}, error) {
			<-release
			return struct{}{}, nil
		})
		require.NoError(t, err)
		var ran atomic.Bool
		h := crew.Handler(p, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			ran.Store(true)
		}))
		ctx, cancel := context.WithCancel(context.Background())
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
		rec := httptest.NewRecorder()
		served := make(chan struct{})
		go func() {
			h.ServeHTTP(rec, req)
			close(served)
		}()
		synctest.Wait()
		require.Equal(t, 1, p.Stats().Queued, "the request waits for the busy worker")
		cancel() // the client goes away
		<-served // ServeHTTP returns at once, with the worker still busy
		require.Zero(t, p.Stats().Queued)
		close(release)
		require.NoError(t, p.Close(context.Background()))
		require.False(t, ran.Load(), "the handler of a request whose client left while queued must not run")
		require.EqualValues(t, 1, p.Stats().Canceled)
	})
}

func TestHandlerUnderLoad(t *testing.T) {
	p := crew.NewPool[struct{}](4, crew.WithQueueSize(16))
	var served atomic.Int64
	srv := httptest.NewServer(crew.Handler(p, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		served.Add(1)
		io.WriteString(w, "ok")
	})))
	defer srv.Close()
	const requests = 300
	var ok, unavailable atomic.Int64
	var wg sync.WaitGroup
	for range requests {
		wg.Go(func() {
			resp, err := http.Get(srv.URL)
			if !assert.NoError(t, err) {
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusOK:
				ok.Add(1)
			case http.StatusServiceUnavailable:
				unavailable.Add(1)
			}
		})
	}
	wg.Wait()
	srv.Close()
	require.NoError(t, p.Close(context.Background()))
	s := p.Stats()
	require.EqualValues(t, requests, ok.Load()+unavailable.Load(), "every request got an answer")
	require.Equal(t, uint64(served.Load()), s.Completed)
	require.Equal(t, uint64(ok.Load()), s.Completed)
	require.Equal(t, s.Submitted, s.Completed+s.Canceled)
}

func TestHandlerServerErrorCountsAsFailure(t *testing.T) {
	log := &callLog{}
	g := &recGuard{name: "g", log: log}
	p := crew.Chain[struct{}](crew.NewPool[struct{}](1), g)
	srv := httptest.NewServer(crew.Handler(p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			http.Error(w, "downstream down", http.StatusBadGateway)
			return
		}
		io.WriteString(w, "ok")
	})))
	defer srv.Close()
	resp, body := get(t, srv.URL+"/bad")
	require.Equal(t, http.StatusBadGateway, resp.StatusCode)
	require.Equal(t, "downstream down\n", body, "the handler's own answer, nothing added")
	var se *crew.StatusError
	require.ErrorAs(t, g.lastErr, &se, "the guard saw the 5xx as a failure")
	require.Equal(t, http.StatusBadGateway, se.Code)
	resp, _ = get(t, srv.URL+"/good")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, g.lastErr)
	require.NoError(t, p.Close(context.Background()))
	require.EqualValues(t, 1, p.Stats().Failed)
}

func TestHandlerRequestPriority(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.NewPriorityPool[struct{}](1)
		release := make(chan struct{})
		_, err := p.Submit(context.Background(), func(context.Context) (struct{}, error) {
			<-release
			return struct{}{}, nil
		})
		require.NoError(t, err)
		var order []string
		h := crew.Handler(p, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			order = append(order, r.URL.Path) // one worker: no race
		}), crew.WithRequestPriority(func(r *http.Request) int {
			if r.Header.Get("X-Tier") == "premium" {
				return 1
			}
			return 0
		}))
		var wg sync.WaitGroup
		for _, path := range []string{"/free1", "/premium", "/free2"} {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			if path == "/premium" {
				req.Header.Set("X-Tier", "premium")
			}
			wg.Go(func() { h.ServeHTTP(httptest.NewRecorder(), req) })
			synctest.Wait() // queued in this order
		}
		close(release)
		wg.Wait()
		require.Equal(t, []string{"/premium", "/free1", "/free2"}, order)
		require.NoError(t, p.Close(context.Background()))
	})
}
