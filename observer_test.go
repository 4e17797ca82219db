package crew_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

// observed records what an Observer hears.
type observed struct {
	mu      sync.Mutex
	jobs    []crew.JobInfo
	refused []string
}

func (o *observed) observer() crew.Observer {
	return crew.Observer{
		JobDone: func(j crew.JobInfo) {
			o.mu.Lock()
			o.jobs = append(o.jobs, j)
			o.mu.Unlock()
		},
		Refused: func(guard string, err error) {
			o.mu.Lock()
			o.refused = append(o.refused, guard)
			o.mu.Unlock()
		},
	}
}

func (o *observed) take() ([]crew.JobInfo, []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	j, r := o.jobs, o.refused
	o.jobs, o.refused = nil, nil
	return j, r
}

func TestObserverSeesWaitRunAndOutcome(t *testing.T) {
	kinds := []struct {
		name string
		new  func(opts ...crew.Option) crew.Pool[int]
	}{
		{"pool", func(o ...crew.Option) crew.Pool[int] { return crew.NewPool[int](1, o...) }},
		{"priority", func(o ...crew.Option) crew.Pool[int] { return crew.NewPriorityPool[int](1, o...) }},
		{"adaptive", func(o ...crew.Option) crew.Pool[int] { return crew.NewAdaptivePool[int](0, 1, o...) }},
		{"chain", func(o ...crew.Option) crew.Pool[int] { return crew.Chain(crew.NewPool[int](1, o...), passGuard{}) }},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var o observed
				p := k.new(crew.WithObserver(o.observer()))
				boom := errors.New("boom")
				first, err := p.Submit(context.Background(), func(context.Context) (int, error) {
					time.Sleep(time.Second)
					return 1, nil
				})
				require.NoError(t, err)
				second, err := p.Submit(context.Background(), func(context.Context) (int, error) {
					time.Sleep(2 * time.Second)
					return 0, boom
				})
				require.NoError(t, err)
				ctx, cancel := context.WithCancel(context.Background())
				dropped, err := p.Submit(ctx, value(3))
				require.NoError(t, err)
				time.Sleep(500 * time.Millisecond)
				cancel() // leaves the queue after 0.5s
				_, err = dropped.Wait(context.Background())
				require.ErrorIs(t, err, context.Canceled)
				_, err = first.Wait(context.Background())
				require.NoError(t, err)
				_, err = second.Wait(context.Background())
				require.ErrorIs(t, err, boom)
				require.NoError(t, p.Close(context.Background()))
				jobs, _ := o.take()
				assert.ElementsMatch(t, []crew.JobInfo{
					{Wait: 500 * time.Millisecond, Err: context.Canceled},
					{Wait: 0, Run: time.Second, Ran: true},
					{Wait: time.Second, Run: 2 * time.Second, Ran: true, Err: boom},
				}, jobs)
			})
		})
	}
}

// slowStart is a guard whose Start takes a while, as a rate limiter's line
// does; the Done it hears is kept.
type slowStart struct {
	passGuard
	wait    time.Duration
	elapsed chan time.Duration
}

func (g slowStart) Start(context.Context, crew.Ticket) (crew.Ticket, error) {
	time.Sleep(g.wait)
	return 0, nil
}

func (g slowStart) Done(_ crew.Ticket, _ error, elapsed time.Duration) { g.elapsed <- elapsed }

// TestObserverCountsAGuardsStartAsWait: the time a job spends in a guard's
// Start is wait, not run, for the Observer and for the guards alike.
func TestObserverCountsAGuardsStartAsWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var o observed
		g := slowStart{wait: 300 * time.Millisecond, elapsed: make(chan time.Duration, 1)}
		p := crew.Chain(crew.NewPool[int](1, crew.WithObserver(o.observer())), g)
		_, err := crew.Do(context.Background(), p, func(context.Context) (int, error) {
			time.Sleep(time.Second)
			return 1, nil
		})
		require.NoError(t, err)
		require.NoError(t, p.Close(context.Background()))
		jobs, _ := o.take()
		assert.Equal(t, []crew.JobInfo{{Wait: 300 * time.Millisecond, Run: time.Second, Ran: true}}, jobs)
		assert.Equal(t, time.Second, <-g.elapsed, "the guard's elapsed")
	})
}

func TestObserverSeesRefusalsByGuard(t *testing.T) {
	var o observed
	lim := crew.NewRateLimiter(1, 1, crew.WithMaxWait(0))
	base := crew.NewPool[int](1, crew.WithQueueSize(0), crew.WithNonBlocking(), crew.WithObserver(o.observer()))
	p := crew.Chain(base, lim)
	blk := occupy(t, p) // takes the token and the worker
	_, err := p.Submit(context.Background(), value(1))
	require.ErrorIs(t, err, crew.ErrRateLimited)
	_, err = base.Submit(context.Background(), value(1))
	require.ErrorIs(t, err, crew.ErrQueueFull)
	_, err = base.Submit(context.Background(), nil)
	require.Error(t, err)
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = base.Submit(ended, value(1))
	require.Error(t, err)
	close(blk.release)
	require.NoError(t, p.Close(context.Background()))
	_, err = p.Submit(context.Background(), value(1))
	require.ErrorIs(t, err, crew.ErrClosed)
	_, refused := o.take()
	assert.Equal(t, []string{"ratelimit", "queue", "input", "ctx", "closed"}, refused)
}

func TestObserverOnABatcher(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var o observed
		b := crew.NewBatcher(func(_ context.Context, in []int) ([]int, error) {
			time.Sleep(time.Second)
			return in, nil
		}, crew.WithBatchSize(2), crew.WithBatchWait(time.Hour), crew.WithObserver(o.observer()))
		f1, err := b.Submit(context.Background(), 1)
		require.NoError(t, err)
		time.Sleep(300 * time.Millisecond)
		f2, err := b.Submit(context.Background(), 2) // the batch is full: cut now
		require.NoError(t, err)
		for _, f := range []*crew.Future[int]{f1, f2} {
			_, err := f.Wait(context.Background())
			require.NoError(t, err)
		}
		require.NoError(t, b.Close(context.Background()))
		_, err = b.Submit(context.Background(), 3)
		require.ErrorIs(t, err, crew.ErrClosed)
		jobs, refused := o.take()
		assert.Equal(t, []crew.JobInfo{
			{Wait: 300 * time.Millisecond, Run: time.Second, Ran: true},
			{Wait: 0, Run: time.Second, Ran: true},
		}, jobs)
		assert.Equal(t, []string{"closed"}, refused)
	})
}

func TestObserverPanicIsContained(t *testing.T) {
	p := crew.NewPool[int](1, crew.WithObserver(crew.Observer{
		JobDone: func(crew.JobInfo) { panic("observer bug") },
		Refused: func(string, error) { panic("observer bug") },
	}))
	v, err := crew.Do(context.Background(), p, value(4))
	require.NoError(t, err, "the job's outcome stands")
	assert.Equal(t, 4, v)
	require.NoError(t, p.Close(context.Background()))
	_, err = p.Submit(context.Background(), value(1))
	assert.ErrorIs(t, err, crew.ErrClosed)
}
