// Command breaker shows crew's Breaker in front of a flaky "search
// service" that is down from 300ms to 900ms. Calls arrive every 10ms. While
// the service fails, the breaker opens and sheds the calls at once instead
// of letting each one fail slowly; every 200ms it lets two probes through;
// once the service is back, the probes succeed and the circuit closes.
//
//	go run ./examples/breaker
package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/crew-go/crew"
)

var errUnavailable = errors.New("503 service unavailable")

func main() {
	t0 := time.Now()
	since := func() time.Duration { return time.Since(t0).Round(10 * time.Millisecond) }

	// search is the downstream: 5ms per call, down between 300ms and 900ms,
	// where it fails after 20ms.
	search := func(ctx context.Context) error {
		if d := time.Since(t0); d > 300*time.Millisecond && d < 900*time.Millisecond {
			time.Sleep(20 * time.Millisecond)
			return errUnavailable
		}
		time.Sleep(5 * time.Millisecond)
		return nil
	}

	b := crew.NewBreaker(crew.BreakerConfig{
		Name:                "search",
		FailureThreshold:    3,
		ResetTimeout:        200 * time.Millisecond,
		HalfOpenMaxRequests: 2,
		OnStateChange: func(from, to crew.CircuitState) {
			fmt.Printf("%6v  circuit %v -> %v\n", since(), from, to)
		},
	})

	var ok, failed, shed int
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for time.Since(t0) < 1300*time.Millisecond {
		<-tick.C
		err := b.Execute(context.Background(), search)
		var re *crew.RejectedError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &re):
			shed++ // returned at once: no time spent on a service that is down
		default:
			failed++
		}
	}
	fmt.Printf("calls: %d ok, %d failed at the service, %d shed by the breaker; state now %v\n",
		ok, failed, shed, b.State())
}
