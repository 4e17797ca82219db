// Command tour runs each crew pattern against an in-process simulated
// downstream and prints what it did: throughput, latency, refusals by guard,
// and the worker count over time. While a phase runs, a status line shows its
// figures so far: redrawn in place on a terminal, once a second otherwise.
//
//	go run ./examples/tour                     # about 20 s
//	go run ./examples/tour -quick              # about 3 s: each phase a tenth as long
//	go run ./examples/tour -only retry,breaker # some phases only
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// config is what the flags set.
type config struct {
	quick bool
	only  string
	scale float64 // phase length as a share of the full tour; 0: from quick
}

// flags registers the tour's flags on fs, with its usage.
func (c *config) flags(fs *flag.FlagSet) {
	fs.BoolVar(&c.quick, "quick", false,
		"run each phase a tenth as long: about 3 s in all instead of about 20 s")
	fs.StringVar(&c.only, "only", "", "run only these phases, comma-separated (see Phases)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: go run ./examples/tour [flags]

The tour runs each crew pattern against a simulated downstream and prints
what it did: throughput, latency, refusals and the worker count over time.

Flags:
`)
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nPhases:\n")
		for _, p := range phases {
			fmt.Fprintf(fs.Output(), "  %-10s %s\n", p.name, p.about)
		}
	}
}

func main() {
	var cfg config
	cfg.flags(flag.CommandLine)
	flag.Parse()
	if err := run(cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "tour:", err)
		os.Exit(2)
	}
}

// run runs the phases cfg names, writing to out.
func run(cfg config, out io.Writer) error {
	todo, err := pick(cfg.only)
	if err != nil {
		return err
	}
	scale := cfg.scale
	if scale == 0 {
		scale = 1
		if cfg.quick {
			scale = 0.1
		}
	}
	t := &tour{out: out, scale: scale, live: isTerminal(out)}
	t.printf("crew tour: each pattern against a simulated downstream")
	if scale != 1 {
		t.printf(" (phases at %g of full length)", scale)
	}
	t.printf("\n")
	var rows []*report
	for i, p := range todo {
		t.printf("\n%d. %s: %s\n", i+1, p.name, p.about)
		rows = append(rows, p.run(t)...)
	}
	t.printf("\n")
	t.summary(rows)
	return nil
}

// phase is one pattern of the tour.
type phase struct {
	name  string
	about string // what it shows, in one line
	run   func(t *tour) []*report
}

var phases = []phase{
	{"pool", "a fixed pool holds the calls in flight to what the downstream takes", phasePool},
	{"priority", "premium callers first, and aging keeps the free ones moving", phasePriority},
	{"adaptive", "the worker count follows the load, and falls back when idle", phaseAdaptive},
	{"ratelimit", "starts held to a rate; what cannot start in time is refused at once", phaseRateLimit},
	{"breaker", "a failing downstream is shed, probed, and closed again when it is back", phaseBreaker},
	{"batcher", "many single-row inserts become a few bulk ones", phaseBatcher},
	{"chain", "an adaptive pool behind a rate limiter and a breaker", phaseChain},
	{"retry", "Retry over a Chain carries every job through an outage", phaseRetry},
}

func phaseNames() []string {
	var names []string
	for _, p := range phases {
		names = append(names, p.name)
	}
	return names
}

// pick returns the phases only names, in the tour's order; all if only is
// empty.
func pick(only string) ([]phase, error) {
	if only == "" {
		return phases, nil
	}
	want := strings.Split(only, ",")
	for _, w := range want {
		if !slices.Contains(phaseNames(), w) {
			return nil, fmt.Errorf("no phase %q (phases: %s)", w, strings.Join(phaseNames(), ", "))
		}
	}
	var todo []phase
	for _, p := range phases {
		if slices.Contains(want, p.name) {
			todo = append(todo, p)
		}
	}
	return todo, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
