package crew

// The helpers of the package's internal tests (package crew): the same
// blocker, submitN and waitAll as helpers_test.go's for the black-box
// tests, and a scripted controller to move an engine's limit.

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// blocker is a job that blocks until released. started is closed when its
// first run starts; closing release lets every run return 1. A run whose
// ctx ends first returns the ctx error. One blocker may back many jobs.
type blocker struct {
	started chan struct{}
	release chan struct{}
	once    sync.Once
}

func newBlocker() *blocker {
	return &blocker{started: make(chan struct{}), release: make(chan struct{})}
}

func (b *blocker) job(ctx context.Context) (int, error) {
	b.once.Do(func() { close(b.started) })
	select {
	case <-b.release:
		return 1, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// submitN submits job n times with a background ctx, requiring each Submit
// to accept it, and returns the Futures.
func submitN[T any](t *testing.T, p Pool[T], n int, job Job[T]) []*Future[T] {
	t.Helper()
	fs := make([]*Future[T], n)
	for i := range fs {
		f, err := p.Submit(context.Background(), job)
		require.NoError(t, err, "Submit %d", i)
		fs[i] = f
	}
	return fs
}

// waitAll waits for every Future, requiring each job to succeed.
func waitAll[T any](t *testing.T, fs []*Future[T]) {
	t.Helper()
	for i, f := range fs {
		_, err := f.Wait(context.Background())
		require.NoError(t, err, "job %d", i)
	}
}

// scripted is a controller that returns the limits it is given, one per
// observed job, then keeps the last.
type scripted struct {
	limits []int // guarded by the engine's mu
}

func (s *scripted) judge(error) (bool, bool) { return true, false }

func (s *scripted) observe(_ time.Duration, _ bool, limit, _ int) int {
	if len(s.limits) == 0 {
		return limit
	}
	l := s.limits[0]
	s.limits = s.limits[1:]
	return l
}

// withController plugs c into p's engine, as WithLimitControl does with the
// gradient, at limit.
func withController[T any](p *AdaptivePool[T], c controller, limit int) {
	p.e.mu.Lock()
	p.e.ctl, p.e.limit = c, limit
	if p.e.clock == nil {
		p.e.clock = clockSince(p.e.born)
	}
	p.e.mu.Unlock()
}

// script sets the limits s returns next.
func script[T any](p *AdaptivePool[T], s *scripted, limits ...int) {
	p.e.mu.Lock()
	s.limits = limits
	p.e.mu.Unlock()
}
