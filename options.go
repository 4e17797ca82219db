package crew

import (
	"fmt"
	"strings"
	"time"
)

// DefaultQueueSize is the bound on queued jobs when WithQueueSize is not
// given: large enough that a burst of Submits rarely waits for a worker,
// small enough that a stalled pool holds a few hundred kilobytes of jobs,
// not the whole backlog of a server.
const DefaultQueueSize = 4096

// Option configures a pool constructor: NewPool, NewPriorityPool,
// NewAdaptivePool, and, for the options that say so, NewBatcher (every
// Option is a BatchOption). Each option's doc says where it applies.
// WithAging and WithIdleTimeout are ignored where they do not apply; any
// other option given to a constructor it does not apply to makes that
// constructor panic, naming the option, so that a misplaced option is
// found at once rather than silently doing nothing. Options are immutable
// values, safe to reuse and to share between goroutines.
type Option interface {
	BatchOption
	poolOption() option
}

// option is every Option: what it sets, and where it applies.
type option struct {
	name    string
	to      target // the constructors it applies to
	ignored bool   // elsewhere it is ignored, not refused (WithAging, WithIdleTimeout)
	apply   func(*config)
}

// target is a set of constructors.
type target uint8

const (
	forPool target = 1 << iota
	forPriority
	forAdaptive
	forBatcher
	forPools = forPool | forPriority | forAdaptive
)

func (o option) poolOption() option { return o }

func (o option) applyBatch(c *batchConfig) { c.pool.take("NewBatcher", forBatcher, o) }

// config is what the options set; each constructor reads the fields that
// concern it.
type config struct {
	queueSize   int
	nonBlocking bool
	idleTimeout time.Duration
	idleSet     bool
	aging       time.Duration
	agingSet    bool
	evictLowest bool           // WithEvictLowest
	priority    bool           // WithPriorityOrder
	onScale     func(int, int) // WithOnScale
	limit       *LimitConfig   // WithLimitControl; nil: the limit stays at max
	observer    *Observer      // WithObserver; nil: none
}

// newConfig applies opts for the constructor ctor, which is one of to.
func newConfig(ctor string, to target, opts []Option) config {
	c := config{queueSize: DefaultQueueSize}
	for _, o := range opts {
		if o != nil {
			c.take(ctor, to, o.poolOption())
		}
	}
	return c
}

// take applies o for the constructor ctor, or panics if o does not apply
// there (see Option).
func (c *config) take(ctor string, to target, o option) {
	switch {
	case o.to&to != 0:
		o.apply(c)
	case !o.ignored:
		panic(fmt.Sprintf("crew: %s: %s does not apply (it applies to %s)", ctor, o.name, o.to))
	}
}

func (t target) String() string {
	var s []string
	for _, c := range []struct {
		t    target
		name string
	}{{forPool, "NewPool"}, {forPriority, "NewPriorityPool"}, {forAdaptive, "NewAdaptivePool"}, {forBatcher, "NewBatcher"}} {
		if t&c.t != 0 {
			s = append(s, c.name)
		}
	}
	return strings.Join(s, ", ")
}

// WithQueueSize bounds the number of accepted jobs waiting for a worker
// (default DefaultQueueSize); math.MaxInt means no bound. A job handed
// straight to an idle worker does not take a place. Zero means no waiting
// room: Submit succeeds only when a worker can take the job at once. For a
// Batcher it bounds the pending items. It applies to every constructor.
// It panics if n is negative.
func WithQueueSize(n int) Option {
	if n < 0 {
		panic(fmt.Sprintf("crew: WithQueueSize(%d): the queue size must be >= 0", n))
	}
	return option{name: "WithQueueSize", to: forPools | forBatcher, apply: func(c *config) { c.queueSize = n }}
}

// WithNonBlocking makes Submit return a *RejectedError matching ErrQueueFull
// at once when the queue is full, instead of waiting for room. It applies
// to every constructor.
func WithNonBlocking() Option {
	return option{name: "WithNonBlocking", to: forPools | forBatcher, apply: func(c *config) { c.nonBlocking = true }}
}
