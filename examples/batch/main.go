// Command batch shows a Batcher turning many single-row inserts from
// concurrent handlers into a few bulk inserts into an in-memory store whose
// every call costs a round trip, and what that costs each handler in latency.
//
//	go run ./examples/batch
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/crew-go/crew"
)

const (
	handlers   = 200                    // concurrent request handlers
	perHandler = 10                     // rows each inserts, one after another
	roundTrip  = 500 * time.Microsecond // what any store call costs
	perRow     = 2 * time.Microsecond   // what each row adds to it
	batchWait  = 2 * time.Millisecond
)

// row is what a handler inserts.
type row struct {
	user  string
	event string
}

var errEmptyUser = errors.New("empty user")

// store is an in-memory table behind one connection: calls run one at a
// time, and each costs a round trip plus a little per row.
type store struct {
	mu    sync.Mutex
	rows  map[int64]row
	next  int64
	calls int
}

// bulkInsert inserts rows in one call and returns their IDs, refusing the
// rows without a user (and only those).
func (s *store) bulkInsert(_ context.Context, rows []row) ([]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	time.Sleep(roundTrip + time.Duration(len(rows))*perRow)
	s.calls++
	ids := make([]int64, len(rows))
	errs := make(crew.ItemErrors, len(rows))
	failed := false
	for i, r := range rows {
		if r.user == "" {
			errs[i], failed = errEmptyUser, true
			continue
		}
		s.next++
		s.rows[s.next] = r
		ids[i] = s.next
	}
	if failed {
		return ids, errs
	}
	return ids, nil
}

// insert is the one-row call a handler would make without a Batcher.
func (s *store) insert(ctx context.Context, r row) (int64, error) {
	ids, err := s.bulkInsert(ctx, []row{r})
	if ie, ok := err.(crew.ItemErrors); ok {
		return 0, ie[0]
	}
	if err != nil {
		return 0, err
	}
	return ids[0], nil
}

// run starts the handlers, each inserting its rows with insert, and returns
// every insert's latency and the wall time.
func run(handlers int, insert func(context.Context, row) (int64, error)) ([]time.Duration, time.Duration) {
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for h := range handlers {
		wg.Go(func() {
			for i := range perHandler {
				r := row{user: fmt.Sprintf("user%d", h), event: fmt.Sprintf("click%d", i)}
				if h == 7 && i == 3 {
					r.user = "" // one bad row: only its handler sees an error
				}
				t0 := time.Now()
				_, err := insert(context.Background(), r)
				d := time.Since(t0)
				if err != nil { // only the bad row's own handler sees it
					fmt.Printf("  handler %d, row %d: %v\n", h, i, err)
				}
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return lat, time.Since(start)
}

func pct(lat []time.Duration, p float64) time.Duration {
	slices.Sort(lat)
	return lat[int(p*float64(len(lat)-1))]
}

func main() {
	ctx := context.Background()
	fmt.Printf("%d handlers each insert %d rows (one row has no user); every store call costs %v + %v per row\n\n",
		handlers, perHandler, roundTrip, perRow)

	type result struct {
		name string
		s    *store
		lat  []time.Duration
		wall time.Duration
	}
	var results []result
	var b *crew.Batcher[row, int64]
	for _, n := range []int{handlers, 1} {
		load := fmt.Sprintf("%d handlers", n)
		if n == 1 {
			load = "1 handler"
		}
		single := &store{rows: map[int64]row{}}
		lat, wall := run(n, single.insert)
		results = append(results, result{load + ", one row per call", single, lat, wall})

		batched := &store{rows: map[int64]row{}}
		b = crew.NewBatcher(batched.bulkInsert, crew.WithBatchSize(100), crew.WithBatchWait(batchWait))
		lat, wall = run(n, func(ctx context.Context, r row) (int64, error) {
			f, err := b.Submit(ctx, r)
			if err != nil {
				return 0, err
			}
			return f.Wait(ctx)
		})
		if err := b.Close(ctx); err != nil { // Close flushes what is pending
			fmt.Println("close:", err)
		}
		results = append(results, result{load + ", Batcher", batched, lat, wall})
	}

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "\tstore calls\trows stored\titems per call\twall time\tp50 latency\tp99 latency\t")
	for _, c := range results {
		fmt.Fprintf(w, "%s\t%d\t%d\t%.1f\t%v\t%v\t%v\t\n", c.name, c.s.calls, len(c.s.rows),
			float64(len(c.lat))/float64(c.s.calls), c.wall.Round(time.Millisecond),
			pct(c.lat, 0.50).Round(10*time.Microsecond), pct(c.lat, 0.99).Round(10*time.Microsecond))
	}
	w.Flush()

	bs := b.BatchStats()
	s := b.Stats()
	fmt.Printf("\nBatcher at light load: %d batches (%d full); cut by size %d, by wait %d, by close %d; "+
		"%d items completed, %d failed\n",
		bs.Batches, bs.Full, bs.BySize, bs.ByWait, bs.ByClose, s.Completed, s.Failed)
	fmt.Printf("Under load batches fill by size and go out back to back; a lone item\n"+
		"waits at most the batch wait (%v) before its batch starts: that is its cost.\n", batchWait)
}
