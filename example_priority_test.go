package crew_test

import (
	"context"
	"fmt"
	"time"

	"github.com/crew-go/crew"
)

// A priority pool runs the queued job of the highest priority first, and
// equal priorities in the order they came. Here one worker is kept busy
// while four jobs queue up, so the order they run in is the queue's alone.
func ExampleNewPriorityPool() {
	pool := crew.NewPriorityPool[string](1)
	defer pool.Close(context.Background())

	busy, release := make(chan struct{}), make(chan struct{})
	pool.Submit(context.Background(), func(context.Context) (string, error) {
		close(busy)
		<-release
		return "", nil
	})
	<-busy

	var futures []*crew.Future[string]
	for _, job := range []struct {
		name     string
		priority int
	}{{"report", 0}, {"checkout", 10}, {"thumbnail", 0}, {"login", 10}} {
		ctx := crew.WithPriority(context.Background(), job.priority)
		f, _ := pool.Submit(ctx, func(context.Context) (string, error) {
			fmt.Println("run", job.name)
			return job.name, nil
		})
		futures = append(futures, f)
	}
	close(release)
	for _, f := range futures {
		f.Wait(context.Background())
	}
	// Output:
	// run checkout
	// run login
	// run report
	// run thumbnail
}

// WithPriority puts the priority in the ctx, so it travels through a Chain
// and into the job, and jobs the job submits inherit it.
func ExampleWithPriority() {
	pool := crew.NewPriorityPool[int](2)
	defer pool.Close(context.Background())

	ctx := crew.WithPriority(context.Background(), 5)
	v, err := crew.Do(ctx, pool, func(ctx context.Context) (int, error) {
		return 6 * 7, nil
	})
	fmt.Println(v, err)
	// Output:
	// 42 <nil>
}

// With aging, a queued job gains one priority level per step it waits: a
// job of priority 0 that has waited 30ms with a 10ms step ranks like a new
// job of priority 3. So it runs before new jobs of priority 2, but not
// before one of priority 100, which it would catch up with only after a
// second. QueueStats shows who waits, and for how long.
func ExampleWithAging() {
	pool := crew.NewPriorityPool[string](1, crew.WithAging(10*time.Millisecond))
	defer pool.Close(context.Background())

	busy, release := make(chan struct{}), make(chan struct{})
	pool.Submit(context.Background(), func(context.Context) (string, error) {
		close(busy)
		<-release
		return "", nil
	})
	<-busy

	job := func(name string) crew.Job[string] {
		return func(context.Context) (string, error) { fmt.Println("run", name); return name, nil }
	}
	futures := make([]*crew.Future[string], 3)
	futures[0], _ = pool.Submit(context.Background(), job("old, priority 0"))
	// Real time, as a user's program would wait. The order only needs at
	// least 30ms between the two Submits, which Sleep guarantees: queued
	// jobs age at the same rate, so a longer wait or a slow machine keeps
	// it. TestPriorityAgingBound pins aging under fake time.
	time.Sleep(30 * time.Millisecond) // it ages three levels
	futures[1], _ = pool.Submit(crew.WithPriority(context.Background(), 2), job("new, priority 2"))
	futures[2], _ = pool.Submit(crew.WithPriority(context.Background(), 100), job("new, priority 100"))

	s := pool.QueueStats()
	fmt.Println("queued per level:", s.Levels, "oldest at level", s.OldestPriority)
	close(release)
	for _, f := range futures {
		f.Wait(context.Background())
	}
	// Output:
	// queued per level: map[0:1 2:1 100:1] oldest at level 0
	// run new, priority 100
	// run old, priority 0
	// run new, priority 2
}
