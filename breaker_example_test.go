package crew_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/crew-go/crew"
)

// Callers refused at the same moment are told to come back at different
// moments, spread over RetrySpread after the circuit turns half-open, so a
// backlog does not return as one herd.
func ExampleBreaker_backlog() {
	b := crew.NewBreaker(crew.BreakerConfig{ResetTimeout: time.Minute, RetrySpread: 50 * time.Second})
	b.Trip()
	for i := range 5 {
		err := b.Execute(context.Background(), func(context.Context) error { return nil })
		if re, ok := errors.AsType[*crew.RejectedError](err); ok {
			fmt.Printf("caller %d: retry after %v\n", i, re.RetryAfter.Truncate(time.Second))
		}
	}
	// Output:
	// caller 0: retry after 1m30s
	// caller 1: retry after 1m11s
	// caller 2: retry after 1m42s
	// caller 3: retry after 1m23s
	// caller 4: retry after 1m4s
}

// Stats shows the state, the window that decides the next trip, and the
// counters since the Breaker was made.
func ExampleBreaker_Stats() {
	b := crew.NewBreaker(crew.BreakerConfig{FailureThreshold: 3})
	ok := func(context.Context) error { return nil }
	bad := func(context.Context) error { return errors.New("503") }
	for _, fn := range []func(context.Context) error{ok, bad, ok, bad, bad, bad, ok} {
		_ = b.Execute(context.Background(), fn)
	}
	s := b.Stats()
	fmt.Printf("%v; %d calls, %d failed; %d trip, %d refused\n", s.State, s.TotalCalls, s.TotalFailures, s.Trips, s.Refusals)
	// Output:
	// open; 6 calls, 4 failed; 1 trip, 1 refused
}
