package crew_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/time/rate"

	"github.com/crew-go/crew"
)

// What a limiter did, for a dashboard or a log line: Stats costs a few
// atomic loads and takes no lock.
func ExampleRateLimiter_Stats() {
	limiter := crew.NewRateLimiter(1, 2, crew.WithMaxWait(0))
	p := crew.Chain(crew.NewPool[int](2), limiter)
	for range 3 {
		_, _ = p.Submit(context.Background(), func(context.Context) (int, error) { return 0, nil })
	}
	_ = p.Close(context.Background())
	s := limiter.Stats()
	fmt.Printf("admitted %d, refused at Submit %d, started %d, pending %d\n",
		s.Admitted, s.RefusedAtSubmit, s.Started, s.Pending)
	// Output:
	// admitted 2, refused at Submit 1, started 2, pending 0
}

// A rate.Limiter that other code also uses: crew's jobs take their tokens
// from the same bucket, so together they keep one rate.
func ExampleNewSharedRateLimiter() {
	lim := rate.NewLimiter(1, 1)
	lim.Allow() // other code took the only token
	p := crew.Chain(crew.NewPool[int](2), crew.NewSharedRateLimiter(lim, crew.WithMaxWait(0)))
	defer p.Close(context.Background())

	_, err := p.Submit(context.Background(), func(context.Context) (int, error) { return 0, nil })
	if re, ok := errors.AsType[*crew.RejectedError](err); ok {
		fmt.Printf("rejected by %s, retry after %v\n", re.Guard, re.RetryAfter.Round(time.Second))
	}
	// Output:
	// rejected by ratelimit, retry after 1s
}
