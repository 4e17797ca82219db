package crew_test

// The helpers shared by the package's black-box tests: jobs that block or
// return at once, Submit and Wait in bulk, guards that record or refuse, a
// log of calls, and a BatchFunc that records its batches. A helper used by
// one file only stays in that file.

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

// nilCtx is a nil context.Context, for bad-input tests.
var nilCtx context.Context

// fmtWrap wraps err as a caller would, to show that errors.Is and
// errors.As see through the wrapping.
func fmtWrap(err error) error { return fmt.Errorf("calling downstream: %w", err) }

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

// occupy submits a blocker and waits until it runs: on a pool of one
// worker, the jobs submitted next wait in the queue until it is released.
func occupy[T any](t *testing.T, p crew.Pool[T]) *blocker {
	t.Helper()
	b := newBlocker()
	_, err := p.Submit(context.Background(), func(ctx context.Context) (T, error) {
		_, err := b.job(ctx)
		var zero T
		return zero, err
	})
	require.NoError(t, err)
	<-b.started
	return b
}

// value is a job that returns v at once.
func value(v int) crew.Job[int] {
	return func(context.Context) (int, error) { return v, nil }
}

// submitN submits job n times with a background ctx, requiring each Submit
// to accept it, and returns the Futures.
func submitN[T any](t *testing.T, p crew.Pool[T], n int, job crew.Job[T]) []*crew.Future[T] {
	t.Helper()
	fs := make([]*crew.Future[T], n)
	for i := range fs {
		f, err := p.Submit(context.Background(), job)
		require.NoError(t, err, "Submit %d", i)
		fs[i] = f
	}
	return fs
}

// waitAll waits for every Future, requiring each job to succeed.
func waitAll[T any](t *testing.T, fs []*crew.Future[T]) {
	t.Helper()
	for i, f := range fs {
		_, err := f.Wait(context.Background())
		require.NoError(t, err, "job %d", i)
	}
}

// isResolved reports whether f's outcome is known, without waiting.
func isResolved[T any](f *crew.Future[T]) bool {
	_, ok := f.Result()
	return ok
}

// received reports whether a value could be received from ch at once, and
// takes it: the check that something has not happened (yet), or has.
func received[T any](ch <-chan T) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// assertCrewPanic checks that fn panics with a message that starts with
// "crew: ", as misuse at construction must.
func assertCrewPanic(t *testing.T, fn func()) {
	t.Helper()
	var r any
	func() {
		defer func() { r = recover() }()
		fn()
	}()
	if assert.NotNil(t, r, "no panic") {
		assert.Regexp(t, "^crew: ", r)
	}
}

// passGuard admits and starts everything: a Chain with it must behave like
// its base pool.
type passGuard struct{}

func (passGuard) Admit(context.Context) (crew.Ticket, error)              { return 0, nil }
func (passGuard) Start(context.Context, crew.Ticket) (crew.Ticket, error) { return 0, nil }
func (passGuard) Done(crew.Ticket, error, time.Duration)                  {}
func (passGuard) Abandon(crew.Ticket)                                     {}

// refuseGuard refuses every job at Admit with err.
type refuseGuard struct{ err error }

func (g refuseGuard) Admit(context.Context) (crew.Ticket, error)            { return 0, g.err }
func (refuseGuard) Start(context.Context, crew.Ticket) (crew.Ticket, error) { return 0, nil }
func (refuseGuard) Done(crew.Ticket, error, time.Duration)                  {}
func (refuseGuard) Abandon(crew.Ticket)                                     {}

// foreignPool hides a crew pool's type, so Chain takes its generic path.
type foreignPool[T any] struct{ crew.Pool[T] }

// callLog records calls (or runs) in order. It is safe for concurrent use.
type callLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *callLog) add(s string) {
	l.mu.Lock()
	l.calls = append(l.calls, s)
	l.mu.Unlock()
}

// take returns the calls so far and empties the log.
func (l *callLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.calls
	l.calls = nil
	return c
}

// count returns how many of the calls so far are s.
func (l *callLog) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.calls {
		if c == s {
			n++
		}
	}
	return n
}

// job returns a job that adds label to the log when it runs, and returns
// it: the log shows the order in which a pool started its jobs.
func (l *callLog) job(label string) crew.Job[string] {
	return func(context.Context) (string, error) {
		l.add(label)
		return label, nil
	}
}

// recGuard records the calls crew makes to it in log, as name.Method, and
// refuses at Admit or Start when told to. Admit gives ticket 7 and Start
// ticket 42: Start and Abandon check they get Admit's, and Done records
// what it gets. It is safe for concurrent use; read the fields once the
// calls are over.
type recGuard struct {
	name               string
	log                *callLog
	admitErr, startErr error

	mu         sync.Mutex
	lastTicket crew.Ticket // the ticket the last Done got
	lastErr    error       // the outcome the last Done heard
	doneErrs   []error     // every outcome Done heard, in order
}

func (g *recGuard) Admit(context.Context) (crew.Ticket, error) {
	g.log.add(g.name + ".Admit")
	return 7, g.admitErr
}

func (g *recGuard) Start(_ context.Context, admitted crew.Ticket) (crew.Ticket, error) {
	g.log.add(g.name + ".Start")
	if admitted != 7 {
		return 0, fmt.Errorf("Start got ticket %d, not Admit's", admitted)
	}
	return 42, g.startErr
}

func (g *recGuard) Done(t crew.Ticket, err error, _ time.Duration) {
	g.log.add(g.name + ".Done")
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lastTicket, g.lastErr = t, err
	g.doneErrs = append(g.doneErrs, err)
}

func (g *recGuard) Abandon(admitted crew.Ticket) {
	if admitted != 7 {
		panic(fmt.Sprintf("Abandon got ticket %d, not Admit's", admitted))
	}
	g.log.add(g.name + ".Abandon")
}

// batchRecorder is a BatchFunc that records every batch and answers
// item*10. If gate is set, each call first waits for a value on it (or for
// its ctx to end, returning the ctx error).
type batchRecorder struct {
	gate    chan struct{}
	mu      sync.Mutex
	batches [][]int
	at      []time.Time
	ctxs    []context.Context
	running int // calls inside fn now
	peak    int // most calls inside fn at once
}

func (r *batchRecorder) fn(ctx context.Context, items []int) ([]int, error) {
	r.mu.Lock()
	r.batches = append(r.batches, slices.Clone(items))
	r.at = append(r.at, time.Now())
	r.ctxs = append(r.ctxs, ctx)
	r.running++
	r.peak = max(r.peak, r.running)
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running--
		r.mu.Unlock()
	}()
	if r.gate != nil {
		select {
		case <-r.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	outs := make([]int, len(items))
	for i, v := range items {
		outs[i] = v * 10
	}
	return outs, nil
}

// got returns the batches so far.
func (r *batchRecorder) got() [][]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.batches)
}

// times returns when each batch so far started.
func (r *batchRecorder) times() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.at)
}

// submitItems submits items with a background ctx, requiring each Submit
// to accept it, and returns their Futures.
func submitItems(t *testing.T, b *crew.Batcher[int, int], items ...int) []*crew.Future[int] {
	t.Helper()
	fs := make([]*crew.Future[int], len(items))
	for i, v := range items {
		f, err := b.Submit(context.Background(), v)
		require.NoError(t, err)
		fs[i] = f
	}
	return fs
}

// closeBatcher closes b, requiring Close to succeed.
func closeBatcher[In, Out any](t *testing.T, b *crew.Batcher[In, Out]) {
	t.Helper()
	require.NoError(t, b.Close(context.Background()))
}

// closePool closes p, draining it, and requires that Close succeeded.
func closePool[T any](t *testing.T, p crew.Pool[T]) {
	t.Helper()
	require.NoError(t, p.Close(context.Background()))
}
