package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// statusEvery is how often the load generator reports.
const statusEvery = 500 * time.Millisecond

// generate loads both routes from 32 clients until ctx ends. Every half
// second it prints the responses per second since the last report, by
// route and status code, and the breaker's state: in place on a terminal,
// a line each time otherwise. At the end it prints the totals.
func generate(ctx context.Context, base string, a *app, out io.Writer) {
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64}, // one connection per client, reused
	}
	defer client.CloseIdleConnections()
	var mu sync.Mutex
	codes := map[string]map[int]int{"search": {}, "pay": {}} // responses by route and code
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			for ctx.Err() == nil {
				route := "search"
				if i%2 == 1 {
					route = "pay"
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/"+route, nil)
				if i%4 == 1 {
					req.Header.Set("X-Tier", "premium")
				}
				resp, err := client.Do(req)
				code := 0 // no response
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					code = resp.StatusCode
					if code != http.StatusOK {
						time.Sleep(20 * time.Millisecond) // a refused client backs off a little
					}
				} else if ctx.Err() != nil {
					return
				}
				mu.Lock()
				codes[route][code]++
				mu.Unlock()
			}
		})
	}
	live := isTerminal(out)
	fmt.Fprintf(out, "responses per second by route and status code, every %v:\n", statusEvery)
	tick := time.NewTicker(statusEvery)
	defer tick.Stop()
	start, last := time.Now(), time.Now()
	prev := map[string]map[int]int{"search": {}, "pay": {}}
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
			continue // the totals follow
		case <-tick.C:
		}
		now := time.Now()
		mu.Lock()
		line := statusLine(now.Sub(start), now.Sub(last), codes, prev, a)
		for route, byCode := range codes {
			prev[route] = maps.Clone(byCode)
		}
		mu.Unlock()
		last = now
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
	fmt.Fprintf(out, "totals after %.1fs:\n", time.Since(start).Seconds())
	for _, route := range []string{"search", "pay"} {
		fmt.Fprintf(out, "  /%-7s %s\n", route, byCode(codes[route], nil, 0))
	}
	fmt.Fprintf(out, "  breaker  %d state changes, %v now\n", a.changes.Load(), a.breaker.State())
}

// statusLine is one report: elapsed time, then each route's responses per
// second by code over the last period, then the breaker's state.
func statusLine(elapsed, period time.Duration, codes, prev map[string]map[int]int, a *app) string {
	return fmt.Sprintf("%5.1fs  search %s  pay %s  breaker %v", elapsed.Seconds(),
		byCode(codes["search"], prev["search"], period), byCode(codes["pay"], prev["pay"], period),
		a.breaker.State())
}

// byCode writes counts by status code, "200:1062 503:94"; with a period,
// the counts since prev per second. Code 0 is written "err" (no response).
func byCode(now, prev map[int]int, period time.Duration) string {
	var keys []int
	for code := range now {
		keys = append(keys, code)
	}
	slices.Sort(keys)
	var parts []string
	for _, code := range keys {
		name := fmt.Sprint(code)
		if code == 0 {
			name = "err"
		}
		n := float64(now[code])
		if period > 0 {
			n = float64(now[code]-prev[code]) / period.Seconds()
		}
		parts = append(parts, fmt.Sprintf("%s:%.0f", name, n))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
