package crew

import (
	"errors"
	"fmt"
	"time"
)

// BatchOption configures NewBatcher. Every Option is also a BatchOption:
// WithQueueSize bounds the pending items and WithNonBlocking makes a full
// Batcher reject instead of wait.
type BatchOption interface {
	applyBatch(*batchConfig)
}

// batchConfig is what the batch options set.
type batchConfig struct {
	pool        config // WithQueueSize, WithNonBlocking
	size        int
	wait        time.Duration
	concurrency int
	timeout     time.Duration
	runOn       Pool[struct{}]
}

type batchOptionFunc func(*batchConfig)

func (o batchOptionFunc) applyBatch(c *batchConfig) { o(c) }

// WithBatchSize cuts a batch as soon as n items wait (default
// DefaultBatchSize); it is also the most items a BatchFunc gets at once.
// It panics if n < 1.
func WithBatchSize(n int) BatchOption {
	if n < 1 {
		panic(fmt.Sprintf("crew: WithBatchSize(%d): the batch size must be >= 1", n))
	}
	return batchOptionFunc(func(c *batchConfig) { c.size = n })
}

// WithBatchWait cuts a batch once its oldest item has waited d (default
// DefaultBatchWait), however few items it holds. The wait starts with the
// batch's first item; later items do not extend it. With d == 0 a batch is
// cut whenever a batch can start, so batches form only from the items that
// arrive while the running batches run. It panics if d < 0.
func WithBatchWait(d time.Duration) BatchOption {
	if d < 0 {
		panic(fmt.Sprintf("crew: WithBatchWait(%v): the batch wait must be >= 0", d))
	}
	return batchOptionFunc(func(c *batchConfig) { c.wait = d })
}

// WithBatchConcurrency bounds the batches running at once (default 1, which
// runs batches one after another in the order their items were submitted).
// It panics if n < 1.
func WithBatchConcurrency(n int) BatchOption {
	if n < 1 {
		panic(fmt.Sprintf("crew: WithBatchConcurrency(%d): the concurrency must be >= 1", n))
	}
	return batchOptionFunc(func(c *batchConfig) { c.concurrency = n })
}

// WithBatchTimeout gives every batch a ctx that ends d after the batch is
// cut (default: no timeout). With WithBatchPool, the time waiting in the
// pool counts. It panics if d < 0; 0 means no timeout.
func WithBatchTimeout(d time.Duration) BatchOption {
	if d < 0 {
		panic(fmt.Sprintf("crew: WithBatchTimeout(%v): the timeout must be >= 0", d))
	}
	return batchOptionFunc(func(c *batchConfig) { c.timeout = d })
}

// WithBatchPool runs each batch as one job on p, so p's workers, queue and
// guards (a Chain's rate limiter or breaker) apply per batch, and several
// Batchers can share p. A Batcher goroutine waits for each job, so
// WithBatchConcurrency still bounds the batches in flight. A batch that p
// refuses (at Submit or at start) fails each of its items with p's error;
// they count as Canceled. The job returns the BatchFunc's error, except that
// an ItemErrors counts as an error only if every item failed, so a breaker
// sees an outage, not one bad item. The Batcher does not close p.
func WithBatchPool(p Pool[struct{}]) BatchOption {
	if p == nil {
		panic("crew: WithBatchPool(nil): the pool is nil")
	}
	return batchOptionFunc(func(c *batchConfig) { c.runOn = p })
}

var (
	errNilContextFlush = errors.New("crew: Flush called with a nil context.Context (use context.Background())")
)
