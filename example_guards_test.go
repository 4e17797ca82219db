package crew_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/crew-go/crew"
)

// At most one job a second, with a burst of two, and no waiting: a job that
// cannot start at once is rejected at Submit, with the time to wait before
// retrying (for an HTTP Retry-After header).
func ExampleNewRateLimiter() {
	limiter := crew.NewRateLimiter(1, 2, crew.WithMaxWait(0))
	p := crew.Chain(crew.NewPool[string](4), limiter)
	defer p.Close(context.Background())

	for i := range 3 {
		_, err := p.Submit(context.Background(), func(context.Context) (string, error) { return "ok", nil })
		if re, ok := errors.AsType[*crew.RejectedError](err); ok {
			fmt.Printf("job %d: rejected by %s, retry after %v\n", i, re.Guard, re.RetryAfter.Round(time.Second))
			continue
		}
		fmt.Printf("job %d: accepted\n", i)
	}
	// Output:
	// job 0: accepted
	// job 1: accepted
	// job 2: rejected by ratelimit, retry after 1s
}

// Two failures in a row open the circuit; after ResetTimeout one probe goes
// through, and its success closes the circuit again.
func ExampleNewBreaker() {
	b := crew.NewBreaker(crew.BreakerConfig{
		FailureThreshold: 2,
		ResetTimeout:     20 * time.Millisecond,
		OnStateChange: func(from, to crew.CircuitState) {
			fmt.Printf("  circuit %v -> %v\n", from, to)
		},
	})
	downstreamUp := false
	call := func(context.Context) error {
		if !downstreamUp {
			return errors.New("connection refused")
		}
		return nil
	}
	for i := range 3 {
		err := b.Execute(context.Background(), call)
		if re, ok := errors.AsType[*crew.RejectedError](err); ok {
			fmt.Printf("call %d: rejected by %s: %v\n", i, re.Guard, re.Err)
			continue
		}
		fmt.Printf("call %d: %v\n", i, err)
	}
	// Real time, as a user's program would wait: the output only needs at
	// least ResetTimeout to pass, which Sleep guarantees, so a slow machine
	// prints the same. TestBreakerHalfOpenWhenResetTimeoutPasses pins it
	// under fake time.
	time.Sleep(20 * time.Millisecond) // the downstream recovers meanwhile
	downstreamUp = true
	fmt.Println("state:", b.State())
	fmt.Printf("probe: %v\n", b.Execute(context.Background(), call))
	// Output:
	// call 0: connection refused
	//   circuit closed -> open
	// call 1: connection refused
	// call 2: rejected by breaker: crew: circuit open
	//   circuit open -> half-open
	// state: half-open
	//   circuit half-open -> closed
	// probe: <nil>
}

// Execute guards a plain function call, without a pool. A panic in the
// function comes back as a *PanicError and counts as a failure.
func ExampleBreaker_Execute() {
	b := crew.NewBreaker(crew.BreakerConfig{FailureThreshold: 1})
	err := b.Execute(context.Background(), func(context.Context) error {
		panic("a bug in the client library")
	})
	var pe *crew.PanicError
	fmt.Println(errors.As(err, &pe), b.State())
	err = b.Execute(context.Background(), func(context.Context) error { return nil })
	fmt.Println(errors.Is(err, crew.ErrCircuitOpen))
	// Output:
	// true open
	// true
}

// A limiter and a breaker in front of one pool, the limiter outermost: it
// spends tokens only on calls that reach the breaker, and the breaker never
// counts a rate limit rejection as a failure of the downstream.
func ExampleChain_guards() {
	limiter := crew.NewRateLimiter(1000, 10, crew.WithMaxWait(50*time.Millisecond))
	breaker := crew.NewBreaker(crew.BreakerConfig{FailureThreshold: 3, ResetTimeout: time.Minute})
	p := crew.Chain(crew.NewPool[int](4), limiter, breaker)
	defer p.Close(context.Background())

	failing := func(context.Context) (int, error) { return 0, errors.New("503 from upstream") }
	for i := range 5 {
		_, err := crew.Do(context.Background(), p, failing)
		if re, ok := errors.AsType[*crew.RejectedError](err); ok {
			fmt.Printf("call %d: shed by %s (%v)\n", i, re.Guard, re.Err)
			continue
		}
		fmt.Printf("call %d: %v\n", i, err)
	}
	s := p.Stats()
	fmt.Printf("completed %d, failed %d, rejected %d\n", s.Completed, s.Failed, s.Rejected)
	// Output:
	// call 0: 503 from upstream
	// call 1: 503 from upstream
	// call 2: 503 from upstream
	// call 3: shed by breaker (crew: circuit open)
	// call 4: shed by breaker (crew: circuit open)
	// completed 3, failed 3, rejected 2
}

// bulkhead is a user-written Guard: it bounds the jobs admitted and not yet
// finished (queued or running), and rejects at once beyond that instead of
// queueing, so one slow downstream cannot take the whole queue.
type bulkhead struct {
	max    int64
	inside atomic.Int64
}

func (g *bulkhead) Admit(context.Context) (crew.Ticket, error) {
	if g.inside.Add(1) > g.max {
		g.inside.Add(-1)
		return 0, &crew.RejectedError{Guard: "bulkhead", Err: crew.ErrQueueFull}
	}
	return 0, nil
}

func (g *bulkhead) Start(context.Context, crew.Ticket) (crew.Ticket, error) { return 0, nil }
func (g *bulkhead) Done(crew.Ticket, error, time.Duration)                  { g.inside.Add(-1) }
func (g *bulkhead) Abandon(crew.Ticket)                                     { g.inside.Add(-1) }

// A Guard of one's own: at most two jobs in flight for this downstream,
// whatever the pool's size.
func Example_bulkhead() {
	p := crew.Chain(crew.NewPool[string](8), &bulkhead{max: 2})
	defer p.Close(context.Background())

	release := make(chan struct{})
	slow := func(context.Context) (string, error) { <-release; return "done", nil }
	var futures []*crew.Future[string]
	for i := range 3 {
		f, err := p.Submit(context.Background(), slow)
		if err != nil {
			fmt.Printf("job %d: %v\n", i, err)
			continue
		}
		futures = append(futures, f)
	}
	close(release)
	for _, f := range futures {
		v, _ := f.Wait(context.Background())
		fmt.Println(v)
	}
	// Output:
	// job 2: crew: rejected by bulkhead: crew: queue full
	// done
	// done
}
