package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/crew-go/crew"
)

// showProgress prints a progress line every cfg.progress until the returned
// func is called: rewritten in place on a terminal, one line each time
// otherwise.
func (c *crawler) showProgress(out io.Writer) (stop func()) {
	if c.cfg.progress <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(c.cfg.progress)
		defer t.Stop()
		for {
			select {
			case <-done:
				if c.cfg.live {
					fmt.Fprint(out, "\r\033[K")
				}
				return
			case <-t.C:
				if c.cfg.live {
					fmt.Fprint(out, "\r"+c.progressLine()+"\033[K")
				} else {
					fmt.Fprintln(out, c.progressLine())
				}
			}
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

// progressLine is one line of progress, under 100 columns even with
// hundreds of thousands of URLs:
//
//	2.75s  done 112/200  queued 61  backing off 19  requests 140  circuit open
func (c *crawler) progressLine() string {
	s := c.pool.Stats()
	finished := int(c.finished.Load())
	// URLs neither finished, queued nor running wait between attempts.
	waiting := max(0, c.cfg.urls-finished-s.Queued-s.Busy)
	return fmt.Sprintf("%6.2fs  done %d/%d  queued %d  backing off %d  requests %d  circuit %v",
		time.Since(c.start).Seconds(), finished, c.cfg.urls, s.Queued, waiting,
		c.requests.Load(), c.breaker.State())
}

// printSummary writes how the crawl went: a table by priority, then what
// the site answered, why the retries were made and what the breaker did.
func (c *crawler) printSummary(out io.Writer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	urgent, normal, all := group{name: "urgent"}, group{name: "normal"}, group{name: "all"}
	var last time.Duration
	for _, u := range c.urls {
		g := &normal
		if u.urgent {
			g = &urgent
		}
		g.add(u)
		all.add(u)
		last = max(last, u.took)
	}
	cfg := c.cfg
	fmt.Fprintf(out, "crawled %d URLs in %s: %d ok, %d failed\n", cfg.urls, seconds(last), all.ok, all.urls-all.ok)
	fmt.Fprintf(out, "site: quota %g/s, %g%% random 500s, outage of %v from %v; crawler: %d workers\n\n",
		cfg.quota, cfg.errorRate*100, cfg.outage, cfg.outageAt, cfg.workers)

	row := func(name string, f func(*group) string) {
		fmt.Fprintf(out, "  %-18s %9s %9s %9s\n", name, f(&urgent), f(&normal), f(&all))
	}
	row("", func(g *group) string { return g.name })
	row("URLs", func(g *group) string { return fmt.Sprint(g.urls) })
	row("finished ok", func(g *group) string { return fmt.Sprint(g.ok) })
	row("requests", func(g *group) string { return fmt.Sprint(g.requests) })
	row("requests per URL", func(g *group) string { return g.perURL() })
	row("p50 latency", func(g *group) string { return g.percentile(0.50) })
	row("p99 latency", func(g *group) string { return g.percentile(0.99) })
	fmt.Fprintln(out, "  (latency: from the start of the crawl to the URL's outcome)")
	fmt.Fprintln(out)

	status, inOutage := c.site.counts()
	var answers []string
	for code, n := range status {
		if n > 0 {
			answers = append(answers, fmt.Sprintf("%d x HTTP %d", n, code))
		}
	}
	fmt.Fprintf(out, "site answered %d requests, %d of them during the outage:\n", all.requests, inOutage)
	printWrapped(out, answers)

	var reasons []string
	for i, name := range c.reasons.names {
		reasons = append(reasons, fmt.Sprintf("%d %s", c.reasons.counts[i], name))
	}
	fmt.Fprintf(out, "retries (RetryPolicy.OnRetry): %d\n", c.retries.Load())
	printWrapped(out, reasons)

	trips := 0
	var changes []string
	for _, t := range c.switches {
		if t.to == crew.StateOpen {
			trips++
		}
		changes = append(changes, fmt.Sprintf("%v at %s", t.to, seconds(t.at)))
	}
	fmt.Fprintf(out, "breaker trips (OnStateChange): %d\n", trips)
	printWrapped(out, changes)
	for i, u := range c.urls {
		if u.err != nil {
			fmt.Fprintf(out, "failed: /page/%d after %d requests: %v\n", i, u.requests, u.err)
		}
	}
}

// printWrapped prints items indented, comma-separated, in lines of at most
// 100 columns.
func printWrapped(out io.Writer, items []string) {
	line := " "
	for i, it := range items {
		if i < len(items)-1 {
			it += ","
		}
		if len(line)+1+len(it) > 100 && line != " " {
			fmt.Fprintln(out, line)
			line = " "
		}
		line += " " + it
	}
	if line != " " {
		fmt.Fprintln(out, line)
	}
}

// group adds up the URLs of one priority.
type group struct {
	name               string
	urls, ok, requests int
	took               []time.Duration // of the URLs that finished ok
}

func (g *group) add(u urlResult) {
	g.urls++
	g.requests += u.requests
	if u.err == nil {
		g.ok++
		g.took = append(g.took, u.took)
	}
}

func (g *group) perURL() string {
	if g.urls == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", float64(g.requests)/float64(g.urls))
}

// percentile returns the p-th percentile (nearest rank) of when the group's
// URLs finished, from the start of the crawl.
func (g *group) percentile(p float64) string {
	if len(g.took) == 0 {
		return "-"
	}
	slices.Sort(g.took)
	i := min(max(int(math.Ceil(float64(len(g.took))*p))-1, 0), len(g.took)-1)
	return seconds(g.took[i])
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }
