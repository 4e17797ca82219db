package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// flakyServer is the site being crawled: an HTTP handler with a quota
// (over it, 429 with a Retry-After), random 500s, and an outage window in
// which every request gets a 503. It counts what it answered. It is safe for
// concurrent use.
type flakyServer struct {
	quota     float64       // requests a second ...
	burst     float64       // ... with this burst
	errorRate float64       // share of 500s
	outageAt  time.Duration // from start, every request fails ...
	outageFor time.Duration // ... for this long
	start     time.Time

	mu       sync.Mutex
	rng      *rand.Rand // guarded by mu
	tokens   float64    // the quota's bucket; guarded by mu
	last     time.Time  // guarded by mu
	byStatus [600]int   // answers by status code; guarded by mu
	inOutage int        // requests that arrived during the outage; guarded by mu
}

func newFlakyServer(c config, start time.Time) *flakyServer {
	burst := max(1, c.quota/5) // a fifth of a second's worth
	return &flakyServer{
		quota: c.quota, burst: burst, errorRate: c.errorRate,
		outageAt: c.outageAt, outageFor: c.outage, start: start,
		rng:    rand.New(rand.NewPCG(c.seed, c.seed)),
		tokens: burst, last: start,
	}
}

// ServeHTTP answers one request for a page.
func (s *flakyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	code, retryAfter, latency := s.decide(time.Now())
	select {
	case <-time.After(latency): // the work of serving the page
	case <-r.Context().Done():
		return
	}
	switch code {
	case http.StatusOK:
		fmt.Fprintf(w, "<html>page %s</html>\n", r.URL.Path)
	case http.StatusTooManyRequests:
		// Retry-After counts whole seconds: round up, so that a client that
		// honours it finds room.
		secs := int(math.Ceil(retryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
		http.Error(w, "over quota", code)
	default:
		http.Error(w, http.StatusText(code), code)
	}
}

// decide takes a request arriving at now: its status, how long until the
// quota has room (for a 429), and how long serving it takes.
func (s *flakyServer) decide(now time.Time) (code int, retryAfter, latency time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	since := now.Sub(s.start)
	outage := since >= s.outageAt && since < s.outageAt+s.outageFor
	if outage {
		s.inOutage++
	}
	s.tokens = min(s.burst, s.tokens+now.Sub(s.last).Seconds()*s.quota)
	s.last = now
	code = http.StatusOK
	switch {
	case s.tokens < 1:
		code = http.StatusTooManyRequests
		retryAfter = time.Duration((1 - s.tokens) / s.quota * float64(time.Second))
	case outage:
		s.tokens--
		code = http.StatusServiceUnavailable
	default:
		s.tokens--
		if s.rng.Float64() < s.errorRate {
			code = http.StatusInternalServerError
		}
	}
	s.byStatus[code]++
	latency = 5*time.Millisecond + time.Duration(s.rng.Int64N(int64(20*time.Millisecond)))
	return code, retryAfter, latency
}

// counts returns the answers so far by status, and the requests that came
// during the outage.
func (s *flakyServer) counts() (byStatus [600]int, inOutage int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byStatus, s.inOutage
}

// fetch gets one page. A status other than 200 is an *httpError, which
// tells crew's Retry how long the server asked us to wait.
func fetch(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	e := &httpError{status: resp.StatusCode}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		e.retryAfter = time.Duration(secs) * time.Second
	}
	return e
}

// httpError is an answer other than 200. Its RetryAfter method is what
// crew's Retry looks for in an error: it waits at least that long before
// the next attempt.
type httpError struct {
	status     int
	retryAfter time.Duration
}

func (e *httpError) Error() string { return "HTTP " + strconv.Itoa(e.status) }

// RetryAfter returns the server's Retry-After, or 0 if it sent none.
func (e *httpError) RetryAfter() time.Duration { return e.retryAfter }
