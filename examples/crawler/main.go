// Command crawler fetches a list of URLs from a flaky site and shows every
// one of them finishing through an outage. The site is an in-process HTTP
// server (httptest) with a quota (over it: 429 and a Retry-After), random
// 500s, and an outage window in which every request gets a 503. The crawler
// calls it through the stack crew recommends for a flaky downstream:
//
//	crew.Retry(crew.Chain(crew.NewPriorityPool[T](8), limiter, breaker), policy)
//
// with crew.WithRunTimeout on each request and crew.WithPriority on the
// urgent URLs. It prints a progress line as it goes, then a summary.
//
//	go run ./examples/crawler                       # 60 URLs, a few seconds
//	go run ./examples/crawler -urls 50 -outage 2s   # a longer outage
//	go run ./examples/crawler -h                    # every flag
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crew-go/crew"
	"golang.org/x/time/rate"
)

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		os.Exit(2) // the flag package has said what was wrong
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg.live = isTerminal(os.Stdout)
	if _, err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "crawler:", err)
		os.Exit(1)
	}
}

// config is what the flags set.
type config struct {
	urls        int
	urgentEvery int
	quota       float64
	errorRate   float64
	outageAt    time.Duration
	outage      time.Duration
	seed        uint64
	workers     int
	runTimeout  time.Duration
	deadline    time.Duration
	progress    time.Duration
	live        bool // rewrite the progress line in place (a terminal)
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("crawler", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./examples/crawler [flags]")
		fmt.Fprintln(stderr, "Crawls a flaky in-process site through crew and reports how every URL finished.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	fs.IntVar(&c.urls, "urls", 60, "URLs to crawl")
	fs.IntVar(&c.urgentEvery, "urgent", 4, "every n-th URL is urgent (crawled first); 0: none")
	fs.Float64Var(&c.quota, "quota", 50, "the site's quota, requests a second (it answers 429 beyond)")
	fs.Float64Var(&c.errorRate, "errors", 0.2, "share of requests the site fails with a 500")
	fs.DurationVar(&c.outageAt, "outage-at", time.Second, "when the outage starts, from the start of the crawl")
	fs.DurationVar(&c.outage, "outage", 600*time.Millisecond, "how long every request gets a 503; 0: no outage")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the site's random 500s and response times")
	fs.IntVar(&c.workers, "workers", 8, "requests in flight at most")
	fs.DurationVar(&c.runTimeout, "run-timeout", time.Second, "deadline of one request, from when it starts")
	fs.DurationVar(&c.deadline, "deadline", 30*time.Second, "deadline of a URL, all its attempts included")
	fs.DurationVar(&c.progress, "progress", 250*time.Millisecond, "how often to print progress; 0: never")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var bad string
	switch {
	case fs.NArg() > 0:
		bad = "unexpected arguments: " + fmt.Sprint(fs.Args())
	case c.urls < 1 || c.workers < 1:
		bad = "-urls and -workers must be at least 1"
	case !(c.quota > 0) || c.urgentEvery < 0:
		bad = "-quota must be above 0 and -urgent at least 0"
	case !(c.errorRate >= 0 && c.errorRate < 1):
		bad = "-errors must be in [0, 1)"
	case c.outageAt < 0 || c.outage < 0 || c.progress < 0:
		bad = "-outage-at, -outage and -progress must not be negative"
	case c.runTimeout <= 0 || c.deadline <= 0:
		bad = "-run-timeout and -deadline must be above 0"
	}
	if bad != "" {
		fmt.Fprintln(stderr, "crawler:", bad)
		fs.Usage()
		return c, errors.New(bad)
	}
	return c, nil
}

// crawler is one crawl: the site, crew's stack in front of it, and what
// happened.
type crawler struct {
	cfg     config
	start   time.Time
	site    *flakyServer
	client  *http.Client
	pool    crew.Pool[struct{}]
	breaker *crew.Breaker

	requests atomic.Int64
	retries  atomic.Int64
	finished atomic.Int64

	mu       sync.Mutex
	urls     []urlResult  // by URL index; guarded by mu
	reasons  reasonCounts // why retries were made; guarded by mu
	switches []transition // the breaker's changes of state; guarded by mu
}

// urlResult is how one URL finished.
type urlResult struct {
	urgent   bool
	requests int
	err      error
	took     time.Duration // from the start of the crawl
}

// transition is a change of the breaker's state, and when it happened.
type transition struct {
	from, to crew.CircuitState
	at       time.Duration
}

// run crawls cfg.urls pages of a new flaky site and writes the progress and
// the summary to out. It returns the crawl's results.
func run(ctx context.Context, cfg config, out io.Writer) (*crawler, error) {
	c := &crawler{cfg: cfg, start: time.Now(), urls: make([]urlResult, cfg.urls)}
	c.site = newFlakyServer(cfg, c.start)
	srv := httptest.NewServer(c.site)
	defer srv.Close()
	transport := &http.Transport{MaxIdleConnsPerHost: cfg.workers}
	defer transport.CloseIdleConnections()
	c.client = &http.Client{Transport: transport}

	// The stack, outermost first. Retry resubmits a failed request after
	// its Retry-After or a back-off; each attempt passes the limiter (at
	// most the site's quota) and the breaker (which stops calling the site
	// while it is down) and waits in the priority pool's queue. Strict
	// priority (WithAging(0)): the list is finite, so nothing starves, and
	// an urgent URL's retry goes before normal URLs queued long ago.
	// Burst 1: requests evenly spaced at the quota's pace.
	limiter := crew.NewRateLimiter(rate.Limit(cfg.quota), 1)
	c.breaker = crew.NewBreaker(crew.BreakerConfig{
		FailureThreshold: 7, // consecutive failures: rare at 20% errors (0.2^7), quick in an outage
		ResetTimeout:     500 * time.Millisecond,
		IsFailure:        siteDown,
		OnStateChange:    c.onStateChange,
	})
	c.pool = crew.Retry(crew.Chain(crew.NewPriorityPool[struct{}](cfg.workers, crew.WithAging(0)), limiter, c.breaker), crew.RetryPolicy{
		MaxAttempts: 10, // attempts refused by the breaker count too; the deadline bounds the rest
		BaseDelay:   100 * time.Millisecond,
		MaxDelay:    2 * time.Second,
		OnRetry:     c.onRetry,
	})

	stopProgress := c.showProgress(out)
	err := c.crawl(ctx, srv.URL)
	stopProgress()
	if cerr := c.pool.Close(context.Background()); err == nil {
		err = cerr
	}
	if err != nil {
		return c, err
	}
	c.printSummary(out)
	return c, nil
}

// crawl submits every URL and waits until each has its outcome.
func (c *crawler) crawl(ctx context.Context, base string) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.deadline)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	for i := range c.cfg.urls {
		url := base + "/page/" + strconv.Itoa(i)
		urgent := c.cfg.urgentEvery > 0 && i%c.cfg.urgentEvery == 0
		jctx := ctx
		if urgent {
			jctx = crew.WithPriority(jctx, 1)
		}
		jctx = crew.WithRunTimeout(jctx, c.cfg.runTimeout)
		f, err := c.pool.Submit(jctx, func(ctx context.Context) (struct{}, error) {
			c.requests.Add(1)
			c.mu.Lock()
			c.urls[i].requests++
			c.mu.Unlock()
			return struct{}{}, fetch(ctx, c.client, url)
		})
		if err != nil {
			c.record(i, urgent, err)
			continue
		}
		wg.Go(func() {
			_, err := f.Wait(context.Background())
			c.record(i, urgent, err)
		})
	}
	return nil
}

func (c *crawler) record(i int, urgent bool, err error) {
	took := time.Since(c.start)
	c.mu.Lock()
	c.urls[i].urgent, c.urls[i].err, c.urls[i].took = urgent, err, took
	c.mu.Unlock()
	c.finished.Add(1)
}

// siteDown tells the breaker which errors mean the site is failing: a 5xx,
// a request that timed out, or no answer at all. A 429 is the site asking us
// to slow down: the limiter and Retry-After take care of it.
func siteDown(err error) bool {
	if he, ok := errors.AsType[*httpError](err); ok {
		return he.status >= 500
	}
	return true
}

func (c *crawler) onStateChange(from, to crew.CircuitState) {
	c.mu.Lock()
	c.switches = append(c.switches, transition{from, to, time.Since(c.start)})
	c.mu.Unlock()
}

func (c *crawler) onRetry(_ int, err error, _ time.Duration) {
	c.retries.Add(1)
	c.mu.Lock()
	c.reasons.add(reason(err))
	c.mu.Unlock()
}

// reason names why an attempt failed, for the summary.
func reason(err error) string {
	var rej *crew.RejectedError
	var he *httpError
	switch {
	case errors.As(err, &rej):
		return "refused by the " + rej.Guard
	case errors.As(err, &he):
		return "after " + he.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "after a run timeout"
	}
	return "after a network error"
}

// reasonCounts counts retries by reason, in the order reasons first came.
type reasonCounts struct {
	names  []string
	counts []int
}

func (r *reasonCounts) add(name string) {
	for i, n := range r.names {
		if n == name {
			r.counts[i]++
			return
		}
	}
	r.names = append(r.names, name)
	r.counts = append(r.counts, 1)
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
