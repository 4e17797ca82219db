// Command breaker shows crew's Breaker in front of a flaky "search
// service" that is down for a while (by default from 300ms to 900ms). Calls
// arrive every 10ms. While the service fails, the breaker opens and sheds
// the calls at once instead of letting each one fail slowly; every
// ResetTimeout it lets two probes through; once the service is back, the
// probes succeed and the circuit closes.
//
//	go run ./examples/breaker
//	go run ./examples/breaker -down 200ms -up 1.5s -run 2s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/crew-go/crew"
)

var errUnavailable = errors.New("503 service unavailable")

// config is what the flags set.
type config struct {
	down, up, run, reset time.Duration
}

// flags registers the flags on fs, with their defaults and the usage.
func (c *config) flags(fs *flag.FlagSet) {
	fs.DurationVar(&c.down, "down", 300*time.Millisecond, "when the service goes down")
	fs.DurationVar(&c.up, "up", 900*time.Millisecond, "when it is back")
	fs.DurationVar(&c.run, "run", 1300*time.Millisecond, "how long calls arrive, one every 10ms")
	fs.DurationVar(&c.reset, "reset", 200*time.Millisecond,
		"the breaker's ResetTimeout: how long it stays open before probing")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: go run ./examples/breaker [flags]

A Breaker in front of a service that is down for a while: it opens, sheds
calls at once, probes, and closes when the service is back.

Flags:
`)
		fs.PrintDefaults()
	}
}

func main() {
	var cfg config
	cfg.flags(flag.CommandLine)
	flag.Parse()
	if err := run(cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "breaker:", err)
		os.Exit(1)
	}
}

func run(cfg config, out io.Writer) error {
	if cfg.down < 0 || cfg.up < cfg.down || cfg.run <= 0 || cfg.reset <= 0 {
		return errors.New("need 0 <= -down <= -up, and -run and -reset above 0")
	}
	t0 := time.Now()
	since := func() time.Duration { return time.Since(t0).Round(10 * time.Millisecond) }

	// search is the downstream: 5ms per call, down between cfg.down and
	// cfg.up, where it fails after 20ms.
	search := func(ctx context.Context) error {
		if d := time.Since(t0); d > cfg.down && d < cfg.up {
			time.Sleep(20 * time.Millisecond)
			return errUnavailable
		}
		time.Sleep(5 * time.Millisecond)
		return nil
	}

	b := crew.NewBreaker(crew.BreakerConfig{
		Name:                "search",
		FailureThreshold:    3,
		ResetTimeout:        cfg.reset,
		HalfOpenMaxRequests: 2,
		OnStateChange: func(from, to crew.CircuitState) {
			fmt.Fprintf(out, "%7v  circuit %v -> %v\n", since(), from, to)
		},
	})
	fmt.Fprintf(out, "A call every 10ms; the service is down from %v to %v. The breaker opens after\n"+
		"3 failures in a row, and probes with 2 calls %v after opening.\n\n", cfg.down, cfg.up, cfg.reset)

	var ok, failed, shed int
	var shedTime, failTime time.Duration
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for time.Since(t0) < cfg.run {
		<-tick.C
		start := time.Now()
		err := b.Execute(context.Background(), search)
		took := time.Since(start)
		var re *crew.RejectedError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &re):
			shed++ // returned at once: no time spent on a service that is down
			shedTime += took
		default:
			failed++
			failTime += took
		}
	}
	fmt.Fprintf(out, "\ncalls: %d ok, %d failed at the service (%v each on average),\n"+
		"%d shed by the breaker (%v each on average); circuit %v at the end\n",
		ok, failed, avg(failTime, failed), shed, avg(shedTime, shed), b.State())
	return nil
}

// avg is total/n, rounded for display; 0 if n is 0.
func avg(total time.Duration, n int) time.Duration {
	if n == 0 {
		return 0
	}
	d := total / time.Duration(n)
	if d >= time.Millisecond {
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(100 * time.Nanosecond)
}
