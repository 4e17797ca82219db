package crew_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/crew-go/crew"
)

// Many callers insert one row each; the Batcher turns them into one bulk
// insert per batch, and each caller gets its own row's ID.
func ExampleNewBatcher() {
	nextID := int64(100)
	insert := func(ctx context.Context, names []string) ([]int64, error) {
		fmt.Printf("INSERT %d rows: %s\n", len(names), strings.Join(names, ", "))
		ids := make([]int64, len(names))
		for i := range names {
			nextID++
			ids[i] = nextID
		}
		return ids, nil
	}
	b := crew.NewBatcher(insert, crew.WithBatchSize(3), crew.WithBatchWait(10*time.Millisecond))
	defer b.Close(context.Background())

	ctx := context.Background()
	var futures []*crew.Future[int64]
	for _, name := range []string{"ada", "bob", "cy", "dee"} {
		f, err := b.Submit(ctx, name) // the third fills a batch: it goes out at once
		if err != nil {
			fmt.Println(err)
			return
		}
		futures = append(futures, f)
	}
	// "dee" waits up to 10ms for company, then goes alone.
	for _, f := range futures {
		f.Wait(ctx)
	}
	for _, f := range futures {
		fmt.Println(f.Wait(ctx))
	}
	// Output:
	// INSERT 3 rows: ada, bob, cy
	// INSERT 1 rows: dee
	// 101 <nil>
	// 102 <nil>
	// 103 <nil>
	// 104 <nil>
}

// A bulk call that accepts some items and refuses others returns ItemErrors:
// each caller sees its own outcome, and Flush joins the failures.
func ExampleItemErrors() {
	errTooLong := errors.New("name too long")
	insert := func(ctx context.Context, names []string) ([]int, error) {
		lens := make([]int, len(names))
		errs := make(crew.ItemErrors, len(names))
		for i, n := range names {
			if len(n) > 4 {
				errs[i] = fmt.Errorf("%q: %w", n, errTooLong)
				continue
			}
			lens[i] = len(n)
		}
		return lens, errs
	}
	b := crew.NewBatcher(insert, crew.WithBatchWait(time.Minute)) // only Flush sends these two
	defer b.Close(context.Background())

	ctx := context.Background()
	ok, _ := b.Submit(ctx, "ada")
	bad, _ := b.Submit(ctx, "bartholomew")
	err := b.Flush(ctx) // cuts the partial batch now and waits for it
	fmt.Println("flush:", err, errors.Is(err, errTooLong))
	fmt.Println(ok.Wait(ctx))
	fmt.Println(bad.Wait(ctx))
	// Output:
	// flush: "bartholomew": name too long true
	// 3 <nil>
	// 0 "bartholomew": name too long
}

// Batches can run on a shared pool, so its bound (and a Chain's guards)
// apply per bulk call.
func ExampleWithBatchPool() {
	pool := crew.NewPool[struct{}](2) // at most two bulk calls at once
	defer pool.Close(context.Background())

	double := func(ctx context.Context, xs []int) ([]int, error) {
		out := make([]int, len(xs))
		for i, x := range xs {
			out[i] = 2 * x
		}
		return out, nil
	}
	b := crew.NewBatcher(double, crew.WithBatchPool(pool))
	f, _ := b.Submit(context.Background(), 21)
	_ = b.Close(context.Background()) // flushes the partial batch
	fmt.Println(f.Wait(context.Background()))
	fmt.Println(pool.Stats().Completed, "pool job")
	// Output:
	// 42 <nil>
	// 1 pool job
}
