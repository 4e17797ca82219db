package crew_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/crew-go/crew"
)

func ExampleNewAdaptivePool() {
	// One worker kept warm, up to 4 when the load needs them.
	pool := crew.NewAdaptivePool[int](1, 4)
	defer pool.Close(context.Background())
	fmt.Println("idle:", pool.Stats().Workers, "worker")

	// A burst of 4 slow jobs: a worker starts for each at once.
	var started sync.WaitGroup
	started.Add(4)
	release := make(chan struct{})
	var futures []*crew.Future[int]
	for i := range 4 {
		f, err := pool.Submit(context.Background(), func(ctx context.Context) (int, error) {
			started.Done()
			<-release
			return i * i, nil
		})
		if err != nil {
			panic(err)
		}
		futures = append(futures, f)
	}
	started.Wait()
	fmt.Println("burst:", pool.Stats().Workers, "workers")
	close(release)
	for _, f := range futures {
		v, _ := f.Wait(context.Background())
		fmt.Print(v, " ")
	}
	fmt.Println()
	// Output:
	// idle: 1 worker
	// burst: 4 workers
	// 0 1 4 9
}

func ExampleWithIdleTimeout() {
	// Workers idle for 10ms retire, down to the minimum of 1; WithOnScale
	// reports each change (outside the pool's lock).
	shrunk := make(chan struct{})
	var once sync.Once
	pool := crew.NewAdaptivePool[int](1, 8,
		crew.WithIdleTimeout(10*time.Millisecond),
		crew.WithOnScale(func(workers, limit int) {
			if workers == 1 {
				once.Do(func() { close(shrunk) })
			}
		}))
	defer pool.Close(context.Background())

	var started sync.WaitGroup
	started.Add(8)
	release := make(chan struct{})
	for range 8 {
		_, err := pool.Submit(context.Background(), func(ctx context.Context) (int, error) {
			started.Done()
			<-release
			return 0, nil
		})
		if err != nil {
			panic(err)
		}
	}
	started.Wait()
	fmt.Println("busy:", pool.Stats().Workers, "workers")
	close(release)
	<-shrunk // 10ms after the jobs end
	fmt.Println("idle again:", pool.Stats().Workers, "worker")
	// Output:
	// busy: 8 workers
	// idle again: 1 worker
}
