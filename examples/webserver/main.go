// Command webserver is a real HTTP server with crew in front of two
// simulated downstreams: a slow search service behind a rate limiter and a
// bounded pool, and a flaky payment service behind a circuit breaker and a
// priority pool (premium requests first). /metrics serves every pool's Stats
// in the Prometheus text format.
//
//	go run ./examples/webserver                      # serve on 127.0.0.1:8080
//	go run ./examples/webserver -load 10s            # and load it, with a live status line
//	curl -H 'X-Tier: premium' localhost:8080/pay
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crew-go/crew"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	load := flag.Duration("load", 0, "run an in-process load generator for this long, then exit")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *addr, *load, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "webserver:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends (or, with load > 0, until the load is done).
func run(ctx context.Context, addr string, load time.Duration, out io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	app := newApp()
	srv := &http.Server{Handler: app.routes()}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(out, "serving on http://%s (/search, /pay, /metrics)\n", ln.Addr())

	if load > 0 {
		lctx, cancel := context.WithTimeout(ctx, load)
		generate(lctx, "http://"+ln.Addr().String(), app, out)
		cancel()
	} else {
		<-ctx.Done()
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	if err != nil {
		srv.Close() // connections that would not go idle in time
		err = nil
	}
	if cerr := app.close(sctx); err == nil {
		err = cerr
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// app holds the two routes' pools and guards.
type app struct {
	search  crew.Pool[struct{}]
	pay     crew.Pool[struct{}]
	limiter *crew.RateLimiter
	breaker *crew.Breaker
	flaky   *flakyService
	changes atomic.Int64 // breaker state changes
}

func newApp() *app {
	a := &app{flaky: &flakyService{start: time.Now()}}
	// Search: at most 100 starts a second, 8 at once, 32 waiting; beyond
	// that a request is refused at once (429 or 503) rather than queued.
	a.limiter = crew.NewRateLimiter(100, 10, crew.WithMaxWait(50*time.Millisecond))
	a.search = crew.Chain(crew.NewPool[struct{}](8, crew.WithQueueSize(32), crew.WithNonBlocking()), a.limiter)
	// Pay: a breaker stops calling the payment service while it fails;
	// premium requests are served first.
	a.breaker = crew.NewBreaker(crew.BreakerConfig{
		FailureThreshold: 5,
		ResetTimeout:     500 * time.Millisecond,
		OnStateChange:    func(from, to crew.CircuitState) { a.changes.Add(1) },
	})
	a.pay = crew.Chain(crew.NewPriorityPool[struct{}](4, crew.WithQueueSize(64)), a.breaker)
	return a
}

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/search", crew.Handler(a.search, http.HandlerFunc(searchHandler)))
	mux.Handle("/pay", crew.Handler(a.pay, http.HandlerFunc(a.payHandler),
		crew.WithRequestPriority(func(r *http.Request) int {
			if r.Header.Get("X-Tier") == "premium" {
				return 10
			}
			return 0
		})))
	mux.HandleFunc("/metrics", a.metrics)
	return mux
}

func (a *app) close(ctx context.Context) error {
	return errors.Join(a.search.Close(ctx), a.pay.Close(ctx))
}

// searchHandler calls the slow downstream: 5-15 ms.
func searchHandler(w http.ResponseWriter, r *http.Request) {
	select {
	case <-time.After(time.Duration(5+rand.IntN(10)) * time.Millisecond):
		io.WriteString(w, "results\n")
	case <-r.Context().Done():
	}
}

// payHandler calls the flaky downstream. A 5xx answer counts as a failed
// job, so the breaker in front of the pay pool sees it.
func (a *app) payHandler(w http.ResponseWriter, r *http.Request) {
	if err := a.flaky.call(r.Context()); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	io.WriteString(w, "paid\n")
}

// flakyService fails every call during the second second of every four.
type flakyService struct{ start time.Time }

func (f *flakyService) call(ctx context.Context) error {
	if phase := time.Since(f.start) % (4 * time.Second); phase >= time.Second && phase < 2*time.Second {
		return errors.New("payment service unavailable")
	}
	select {
	case <-time.After(3 * time.Millisecond):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// metrics writes every pool's Stats in the Prometheus text format.
func (a *app) metrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	pools := map[string]crew.Stats{"search": a.search.Stats(), "pay": a.pay.Stats()}
	names := []string{"pay", "search"}
	gauge := func(name, help string, v func(crew.Stats) float64, kind string) {
		fmt.Fprintf(w, "# HELP crew_%s %s\n# TYPE crew_%s %s\n", name, help, name, kind)
		for _, p := range names {
			fmt.Fprintf(w, "crew_%s{pool=%q} %g\n", name, p, v(pools[p]))
		}
	}
	gauge("workers", "Worker goroutines alive.", func(s crew.Stats) float64 { return float64(s.Workers) }, "gauge")
	gauge("busy", "Workers running a job.", func(s crew.Stats) float64 { return float64(s.Busy) }, "gauge")
	gauge("queued", "Accepted jobs not started yet.", func(s crew.Stats) float64 { return float64(s.Queued) }, "gauge")
	gauge("submitted_total", "Submit calls that accepted a job.", func(s crew.Stats) float64 { return float64(s.Submitted) }, "counter")
	gauge("rejected_total", "Submit calls that returned an error.", func(s crew.Stats) float64 { return float64(s.Rejected) }, "counter")
	gauge("completed_total", "Jobs that ran to the end.", func(s crew.Stats) float64 { return float64(s.Completed) }, "counter")
	gauge("failed_total", "Completed jobs that failed or panicked.", func(s crew.Stats) float64 { return float64(s.Failed) }, "counter")
	gauge("canceled_total", "Accepted jobs that never ran.", func(s crew.Stats) float64 { return float64(s.Canceled) }, "counter")
	fmt.Fprintf(w, "# HELP crew_breaker_state Circuit state: 0 closed, 1 open, 2 half-open.\n# TYPE crew_breaker_state gauge\ncrew_breaker_state{breaker=\"pay\"} %d\n", a.breaker.State())
}

// generate loads both routes from 32 clients until ctx ends, printing a
// status line every half second (in place on a terminal).
func generate(ctx context.Context, base string, a *app, out io.Writer) {
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64}, // one connection per client, reused
	}
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	codes := map[string]int{}
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			for ctx.Err() == nil {
				path := "/search"
				if i%2 == 1 {
					path = "/pay"
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
				if i%4 == 1 {
					req.Header.Set("X-Tier", "premium")
				}
				resp, err := client.Do(req)
				key := path + " err"
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					key = fmt.Sprintf("%s %d", path, resp.StatusCode)
					if resp.StatusCode != http.StatusOK {
						time.Sleep(20 * time.Millisecond) // a refused client backs off a little
					}
				} else if ctx.Err() != nil {
					return
				}
				mu.Lock()
				codes[key]++
				mu.Unlock()
			}
		})
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	live := isTerminal(out)
	start := time.Now()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
		}
		mu.Lock()
		line := statusLine(codes, time.Since(start), a)
		mu.Unlock()
		if live {
			fmt.Fprintf(out, "\r\033[K%s", line)
		} else {
			fmt.Fprintln(out, line)
		}
	}
	wg.Wait()
	if live {
		fmt.Fprintln(out)
	}
}

func statusLine(codes map[string]int, elapsed time.Duration, a *app) string {
	var keys []string
	total := 0
	for k, v := range codes {
		keys = append(keys, k)
		total += v
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s:%d", k, codes[k]))
	}
	return fmt.Sprintf("%5.1fs %6.0f req/s breaker=%v changes=%d | %s",
		elapsed.Seconds(), float64(total)/elapsed.Seconds(), a.breaker.State(), a.changes.Load(), strings.Join(parts, " "))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
