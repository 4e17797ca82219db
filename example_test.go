package crew_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/crew-go/crew"
)

func ExampleNewPool() {
	pool := crew.NewPool[int](4) // at most 4 jobs run at once
	defer pool.Close(context.Background())

	var futures []*crew.Future[int]
	for i := 1; i <= 3; i++ {
		f, err := pool.Submit(context.Background(), func(ctx context.Context) (int, error) {
			return i * i, nil
		})
		if err != nil {
			panic(err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		v, err := f.Wait(context.Background())
		fmt.Println(v, err)
	}
	// Output:
	// 1 <nil>
	// 4 <nil>
	// 9 <nil>
}

func ExampleDo() {
	pool := crew.NewPool[string](2)
	defer pool.Close(context.Background())

	s, err := crew.Do(context.Background(), pool, func(ctx context.Context) (string, error) {
		return "done", nil
	})
	fmt.Println(s, err)
	// Output: done <nil>
}

func ExamplePanicError() {
	pool := crew.NewPool[int](1)
	defer pool.Close(context.Background())

	_, err := crew.Do(context.Background(), pool, func(ctx context.Context) (int, error) {
		panic("out of paper") // the pool survives, the caller gets an error
	})
	var pe *crew.PanicError
	fmt.Println(errors.As(err, &pe))
	fmt.Println(pe.Value)
	// Output:
	// true
	// out of paper
}

func ExampleWithNonBlocking() {
	pool := crew.NewPool[int](1, crew.WithQueueSize(1), crew.WithNonBlocking())
	defer pool.Close(context.Background())

	release := make(chan struct{})
	started := make(chan struct{})
	pool.Submit(context.Background(), func(ctx context.Context) (int, error) {
		close(started)
		<-release
		return 0, nil
	})
	<-started
	pool.Submit(context.Background(), func(ctx context.Context) (int, error) { return 0, nil }) // queued

	_, err := pool.Submit(context.Background(), func(ctx context.Context) (int, error) { return 0, nil })
	fmt.Println(errors.Is(err, crew.ErrQueueFull))
	var rej *crew.RejectedError
	fmt.Println(errors.As(err, &rej), rej.Guard)
	close(release)
	// Output:
	// true
	// true queue
}

func ExampleWorkerPool_Close() {
	pool := crew.NewPool[int](1)
	started := make(chan struct{})
	pool.Submit(context.Background(), func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done() // a job that runs until cancelled
		return 0, ctx.Err()
	})
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	fmt.Println(pool.Close(ctx)) // gives up, cancels the job, waits for it
	_, err := pool.Submit(context.Background(), func(ctx context.Context) (int, error) { return 0, nil })
	fmt.Println(err)
	// Output:
	// context deadline exceeded
	// crew: closed
}
