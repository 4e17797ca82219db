// Command webserver is a real HTTP server with crew in front of two
// simulated downstreams: a slow search service behind a rate limiter and a
// bounded pool, and a flaky payment service behind a circuit breaker and a
// priority pool (premium requests first). /metrics serves the pools' and the
// breaker's metrics to Prometheus, through crewprom and promhttp.
//
//	go run ./examples/webserver                      # serve on 127.0.0.1:8080
//	go run ./examples/webserver -load 10s            # and load it, with a live status line
//	curl -H 'X-Tier: premium' localhost:8080/pay
//	curl localhost:8080/metrics
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
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/crew-go/crew"
	"github.com/crew-go/crew/crewprom"
)

// config is what the flags set.
type config struct {
	addr string
	load time.Duration
}

// flags registers the flags on fs, with their defaults and the usage.
func (c *config) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "listen address")
	fs.DurationVar(&c.load, "load", 0,
		"run an in-process load generator for this long, then exit (default: serve until ^C)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: go run ./examples/webserver [flags]

A real HTTP server with crew in front of two simulated downstreams: /search
behind a rate limiter and a bounded pool, /pay behind a breaker and a
priority pool (header X-Tier: premium goes first); /metrics for
Prometheus.

Flags:
`)
		fs.PrintDefaults()
	}
}

func main() {
	var cfg config
	cfg.flags(flag.CommandLine)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg.addr, cfg.load, os.Stdout); err != nil {
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

// app holds the two routes' pools and guards, and the registry /metrics
// serves.
type app struct {
	search  crew.Pool[struct{}]
	pay     crew.Pool[struct{}]
	limiter *crew.RateLimiter
	breaker *crew.Breaker
	flaky   *flakyService
	changes atomic.Int64 // breaker state changes
	metrics *prometheus.Registry
}

func newApp() *app {
	a := &app{flaky: &flakyService{start: time.Now()}, metrics: prometheus.NewRegistry()}
	// Each pool's Observer feeds its queue-wait and run-time histograms and
	// counts refusals by guard; the collectors read Stats when scraped.
	searchObs, payObs := crewprom.NewObserver("search"), crewprom.NewObserver("pay")
	// Search: at most 100 starts a second, 8 at once, 32 waiting; beyond
	// that a request is refused at once (429 or 503) rather than queued.
	a.limiter = crew.NewRateLimiter(100, 10, crew.WithMaxWait(50*time.Millisecond))
	a.search = crew.Chain(crew.NewPool[struct{}](8, crew.WithQueueSize(32), crew.WithNonBlocking(),
		crew.WithObserver(searchObs.Observer())), a.limiter)
	// Pay: a breaker stops calling the payment service while it fails;
	// premium requests are served first.
	a.breaker = crew.NewBreaker(crew.BreakerConfig{
		FailureThreshold: 5,
		ResetTimeout:     500 * time.Millisecond,
		OnStateChange:    func(from, to crew.CircuitState) { a.changes.Add(1) },
	})
	a.pay = crew.Chain(crew.NewPriorityPool[struct{}](4, crew.WithQueueSize(64),
		crew.WithObserver(payObs.Observer())), a.breaker)
	a.metrics.MustRegister(searchObs, payObs,
		crewprom.NewPoolCollector("search", a.search.Stats),
		crewprom.NewPoolCollector("pay", a.pay.Stats),
		crewprom.NewBreakerCollector("pay", a.breaker.Stats),
		crewprom.NewLimiterCollector("search", a.limiter.Stats))
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
	mux.Handle("/metrics", promhttp.HandlerFor(a.metrics, promhttp.HandlerOpts{}))
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
		if r.Context().Err() != nil {
			return // the client is gone: nobody to answer, and no fault of the service
		}
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
