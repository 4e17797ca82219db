// Command batch writes to a real database, SQLite through database/sql with
// a pure-Go driver (modernc.org/sqlite, no cgo). Concurrent request handlers
// each insert rows one after another: first each row in a statement and a
// transaction of its own, then through a crew.Batcher whose BatchFunc stores
// a whole batch in one multi-row INSERT in one transaction. A few rows repeat
// a request ID, which the table's UNIQUE key refuses: only their own
// handlers get an error (the BatchFunc returns crew.ItemErrors); the rest of
// their batch is stored.
//
//	go run ./examples/batch                 # in a temporary file, removed at the end
//	go run ./examples/batch -db events.db   # in a file of yours
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/crew-go/crew"
)

// config is what the flags set.
type config struct {
	db        string
	handlers  int
	rows      int
	dupes     int
	batchSize int
	batchWait time.Duration
}

// flags registers the flags on fs, with their defaults and the usage.
func (c *config) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.db, "db", "",
		"SQLite file to write, created if need be; its table crew_example_events is emptied\n"+
			"first (default: a temporary file, removed at the end)")
	fs.IntVar(&c.handlers, "handlers", 200, "concurrent request handlers")
	fs.IntVar(&c.rows, "rows", 10, "rows each handler inserts, one after another")
	fs.IntVar(&c.dupes, "dupes", 3,
		"rows that repeat their handler's first request ID, which the UNIQUE key refuses")
	fs.IntVar(&c.batchSize, "batch", 100, "most rows in one batch (one INSERT), 1 to 1000")
	fs.DurationVar(&c.batchWait, "wait", 2*time.Millisecond,
		"longest a row waits for its batch to fill before the batch goes")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: go run ./examples/batch [flags]

Concurrent handlers insert rows into SQLite, one statement a row, then
through a crew.Batcher doing one multi-row INSERT a batch; each handler
gets its own row's ID or error.

Flags:
`)
		fs.PrintDefaults()
	}
}

func (c *config) check() error {
	switch {
	case c.handlers < 1 || c.rows < 1:
		return errors.New("-handlers and -rows must be at least 1")
	case c.dupes < 0 || c.dupes > c.handlers:
		return errors.New("-dupes must be from 0 to -handlers")
	case c.dupes > 0 && c.rows < 2:
		return errors.New("-dupes needs -rows of 2 or more: a handler repeats its own first row")
	case c.batchSize < 1 || c.batchSize > 1000:
		return errors.New("-batch must be from 1 to 1000")
	case c.batchWait < 0:
		return errors.New("-wait must not be negative")
	}
	return nil
}

func main() {
	var cfg config
	cfg.flags(flag.CommandLine)
	flag.Parse()
	if err := run(context.Background(), cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "batch:", err)
		os.Exit(1)
	}
}

// run inserts the rows both ways into the database cfg names, or a
// temporary one, and prints what each way cost.
func run(ctx context.Context, cfg config, out io.Writer) error {
	if err := cfg.check(); err != nil {
		return err
	}
	path := cfg.db
	if path == "" {
		dir, err := os.MkdirTemp("", "crew-batch-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		path = dir + "/events.db"
	}
	s, err := openStore(ctx, path)
	if err != nil {
		return err
	}
	defer s.close()

	inserts := cfg.handlers * cfg.rows
	fmt.Fprintf(out, "%d inserts into SQLite at %s:\n", inserts, path)
	fmt.Fprintf(out, "%d handlers insert %d rows each, one after another; %d rows repeat a request ID\n"+
		"stored before, which the table's UNIQUE key refuses.\n",
		cfg.handlers, cfg.rows, cfg.dupes)

	fmt.Fprintf(out, "\nrow by row: one INSERT per row, each its own transaction\n")
	if err := s.empty(ctx); err != nil {
		return err
	}
	single := insertAll(ctx, cfg, s.insertOne)
	single.statements = inserts
	if single.stored, err = s.count(ctx); err != nil {
		return err
	}
	single.print(out)

	fmt.Fprintf(out, "\nBatcher: one multi-row INSERT per batch of up to %d rows, in a transaction\n",
		cfg.batchSize)
	if err := s.empty(ctx); err != nil {
		return err
	}
	b := crew.NewBatcher(s.insertBatch, crew.WithBatchSize(cfg.batchSize), crew.WithBatchWait(cfg.batchWait))
	batched := insertAll(ctx, cfg, b.Do)
	if err := b.Close(ctx); err != nil {
		return err
	}
	bs := b.BatchStats()
	batched.statements = int(bs.Batches)
	if batched.stored, err = s.count(ctx); err != nil {
		return err
	}
	batched.print(out)

	fmt.Fprintf(out, "\n%-11s %8s %11s %12s %8s %10s %11s %11s\n", "method", "inserts",
		"statements", "rows stored", "refused", "wall time", "p50 insert", "p99 insert")
	for _, r := range []struct {
		name string
		*outcome
	}{{"row by row", single}, {"Batcher", batched}} {
		fmt.Fprintf(out, "%-11s %8d %11d %12d %8d %10s %11s %11s\n", r.name, len(r.lat),
			r.statements, r.stored, len(r.refused), round(r.wall), round(pct(r.lat, 50)),
			round(pct(r.lat, 99)))
	}
	fmt.Fprintf(out, "\nThe Batcher cut %d batches of %.0f rows on average (%d by size, %d by wait, %d by\n"+
		"Close): %.0fx less wall time. Row by row, each insert is a transaction that SQLite syncs\n"+
		"to disk; a batch is one statement and one sync.\n",
		bs.Batches, float64(bs.Items)/float64(max(bs.Batches, 1)), bs.BySize, bs.ByWait, bs.ByClose,
		single.wall.Seconds()/batched.wall.Seconds())
	if cfg.db != "" {
		fmt.Fprintf(out, "The rows of the Batcher's run stay in table crew_example_events of\n%s\n", cfg.db)
	}
	return nil
}

// outcome is what the handlers saw inserting one way.
type outcome struct {
	lat        []time.Duration // every insert's, sorted
	wall       time.Duration
	refused    []string // the refused rows' handlers and errors, sorted
	failed     []string // other errors: none expected
	statements int
	stored     int
}

// insertAll runs the handlers, each inserting its rows with insert, one
// after another.
func insertAll(ctx context.Context, cfg config, insert func(context.Context, event) (int64, error)) *outcome {
	var (
		o  outcome
		mu sync.Mutex
		wg sync.WaitGroup
	)
	start := time.Now()
	for h := range cfg.handlers {
		wg.Go(func() {
			for i := range cfg.rows {
				e := event{requestID: requestID(h, i), user: fmt.Sprintf("user%d", h), name: fmt.Sprintf("click%d", i)}
				if i == cfg.rows-1 && isDuplicating(cfg, h) {
					e.requestID = requestID(h, 0) // a client's retry of the first request
				}
				t0 := time.Now()
				_, err := insert(ctx, e)
				lat := time.Since(t0)
				mu.Lock()
				o.lat = append(o.lat, lat)
				var dup *duplicateError
				switch {
				case errors.As(err, &dup):
					o.refused = append(o.refused, fmt.Sprintf("handler %3d, row %2d: %v", h, i, err))
				case err != nil:
					o.failed = append(o.failed, fmt.Sprintf("handler %3d, row %2d: %v", h, i, err))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	o.wall = time.Since(start)
	slices.Sort(o.lat)
	slices.Sort(o.refused)
	slices.Sort(o.failed)
	return &o
}

// print shows the errors the handlers got, each its own: at most 5 lines
// of each kind.
func (o *outcome) print(out io.Writer) {
	for _, errs := range [][]string{o.refused, o.failed} {
		for i, line := range errs {
			if i == 5 {
				fmt.Fprintf(out, "  ... and %d more\n", len(errs)-i)
				break
			}
			fmt.Fprintf(out, "  %s\n", line)
		}
	}
	fmt.Fprintf(out, "  %d rows stored, %d refused, %d failed, in %s\n",
		o.stored, len(o.refused), len(o.failed), round(o.wall))
}

// requestID names handler h's row i.
func requestID(h, i int) string { return fmt.Sprintf("h%03d-r%02d", h, i) }

// isDuplicating reports whether handler h's last row repeats its first
// request ID: cfg.dupes handlers spread over all of them do.
func isDuplicating(cfg config, h int) bool {
	for j := range cfg.dupes {
		if (7+j*cfg.handlers/cfg.dupes)%cfg.handlers == h {
			return true
		}
	}
	return false
}

// pct is the p-th percentile of sorted.
func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[(len(sorted)-1)*p/100]
}

// round rounds d for display: three significant digits or so.
func round(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	default:
		return d.Round(10 * time.Microsecond).String()
	}
}
