package crew

import (
	"fmt"
	"time"
)

// DefaultQueueSize is the bound on queued jobs when WithQueueSize is not
// given: large enough that a burst of Submits rarely waits for a worker,
// small enough that a stalled pool holds a few hundred kilobytes of jobs,
// not the whole backlog of a server.
const DefaultQueueSize = 4096

// Option configures a pool constructor (NewPool, NewPriorityPool,
// NewAdaptivePool). Every Option is also a BatchOption, so the queue options
// configure a Batcher's pending items the same way. An option that does not
// apply to a constructor is ignored there, as its doc says. Options are
// immutable values, safe to reuse and to share between goroutines.
type Option interface {
	BatchOption
	apply(*config)
}

// config is what the options set; each constructor reads the fields that
// concern it.
type config struct {
	queueSize   int
	nonBlocking bool
	idleTimeout time.Duration
	idleSet     bool
	aging       time.Duration
	agingSet    bool
	prio        priorityConfig
	adapt       adaptiveConfig
}

func newConfig(opts []Option) config {
	c := config{queueSize: DefaultQueueSize}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return c
}

// optionFunc is an Option made of a function.
type optionFunc func(*config)

func (o optionFunc) apply(c *config)           { o(c) }
func (o optionFunc) applyBatch(c *batchConfig) { o(&c.pool) }

// WithQueueSize bounds the number of accepted jobs waiting for a worker
// (default DefaultQueueSize). A job handed straight to an idle worker does
// not take a place. Zero means no waiting room: Submit succeeds only when a
// worker can take the job at once. It panics if n is negative.
func WithQueueSize(n int) Option {
	if n < 0 {
		panic(fmt.Sprintf("crew: WithQueueSize(%d): the queue size must be >= 0", n))
	}
	return optionFunc(func(c *config) { c.queueSize = n })
}

// WithNonBlocking makes Submit return a *RejectedError matching ErrQueueFull
// at once when the queue is full, instead of waiting for room.
func WithNonBlocking() Option {
	return optionFunc(func(c *config) { c.nonBlocking = true })
}
