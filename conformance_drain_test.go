package crew_test

// Close drains, or gives up when its ctx ends, over every pool kind
// (guarantee 2).

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

func TestConformanceCloseDrains(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		synctest.Test(t, func(t *testing.T) {
			p := k.new(1)
			b := occupy(t, p)
			var ran atomic.Int32
			var queued []*crew.Future[int]
			for range 5 {
				f, err := p.Submit(context.Background(), func(context.Context) (int, error) {
					ran.Add(1)
					return 0, nil
				})
				require.NoError(t, err)
				queued = append(queued, f)
			}
			closed := make(chan error, 2)
			go func() { closed <- p.Close(context.Background()) }()
			go func() { closed <- p.Close(context.Background()) }()
			synctest.Wait()
			// Intake stops at once, while the queued jobs still wait.
			_, err := p.Submit(context.Background(), value(0))
			require.ErrorIs(t, err, crew.ErrClosed)
			require.Equal(t, 5, p.Stats().Queued)
			require.False(t, received(closed), "Close returned while a job was still running")
			close(b.release)
			require.NoError(t, <-closed)
			require.NoError(t, <-closed)
			require.EqualValues(t, 5, ran.Load(), "Close must run what was queued")
			for _, f := range queued {
				_, err := f.Wait(context.Background())
				require.NoError(t, err)
			}
			require.NoError(t, p.Close(context.Background()), "a later Close returns the first result")
			s := p.Stats()
			assert.Equal(t, s.Submitted, s.Completed+s.Canceled)
			assert.Zero(t, s.Workers)
		})
	})
}

func TestConformanceCloseGivesUp(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		synctest.Test(t, func(t *testing.T) {
			p := k.new(2)
			// One running job honours cancellation, one ignores it for a while.
			polite := newBlocker()
			_, err := p.Submit(context.Background(), polite.job)
			require.NoError(t, err)
			stubbornDone := make(chan struct{})
			stubborn, err := p.Submit(context.Background(), func(ctx context.Context) (int, error) {
				<-ctx.Done()
				time.Sleep(time.Second) // cleanup after cancel takes fake time
				close(stubbornDone)
				return 2, nil
			})
			require.NoError(t, err)
			synctest.Wait()
			var queued []*crew.Future[int]
			for range 3 {
				f, err := p.Submit(context.Background(), value(0))
				require.NoError(t, err)
				queued = append(queued, f)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = p.Close(ctx)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			assert.True(t, received(stubbornDone), "Close returned before its running jobs did")
			for _, f := range queued {
				_, err := f.Wait(context.Background())
				require.ErrorIs(t, err, crew.ErrClosed)
			}
			v, err := stubborn.Wait(context.Background())
			require.NoError(t, err)
			require.Equal(t, 2, v)
			require.ErrorIs(t, p.Close(context.Background()), context.DeadlineExceeded,
				"a later Close returns the first result")
			s := p.Stats()
			assert.EqualValues(t, 3, s.Canceled)
			assert.EqualValues(t, 2, s.Completed)
			assert.Equal(t, s.Submitted, s.Completed+s.Canceled)
		})
	})
}

func TestConformanceCloseGivesUpCancelsCancellableJobs(t *testing.T) {
	// The submitter's ctx can end, so the job runs with a ctx of its own;
	// Close's deadline must still reach it.
	forEachKind(t, func(t *testing.T, k poolKind) {
		synctest.Test(t, func(t *testing.T) {
			p := k.new(1)
			sub, cancelSub := context.WithCancel(context.Background())
			defer cancelSub()
			b := newBlocker()
			f, err := p.Submit(sub, b.job)
			require.NoError(t, err)
			<-b.started
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			require.ErrorIs(t, p.Close(ctx), context.DeadlineExceeded)
			_, err = f.Wait(context.Background())
			require.ErrorIs(t, err, context.Canceled)
		})
	})
}

func TestConformanceCloseIdle(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		p := k.new(3)
		require.NoError(t, p.Close(context.Background()))
		_, err := p.Submit(context.Background(), value(1))
		require.ErrorIs(t, err, crew.ErrClosed)
		require.Error(t, p.Close(nilCtx), "a nil ctx is refused, not a crash")
		s := p.Stats()
		assert.EqualValues(t, 1, s.Rejected)
		assert.Zero(t, s.Workers)
	})
}

func TestConformanceBlockedSubmitSeesClose(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		synctest.Test(t, func(t *testing.T) {
			p := k.new(1, crew.WithQueueSize(1))
			b := occupy(t, p)
			_, err := p.Submit(context.Background(), value(0))
			require.NoError(t, err)
			refused := make(chan error)
			go func() {
				_, err := p.Submit(context.Background(), value(0))
				refused <- err
			}()
			synctest.Wait()
			closed := make(chan error)
			go func() { closed <- p.Close(context.Background()) }()
			if blindClose[k.name] {
				synctest.Wait()
				close(b.release)
				require.NoError(t, <-refused, "let in once room appeared")
				require.NoError(t, <-closed)
				assert.EqualValues(t, 3, p.Stats().Submitted)
				return
			}
			require.ErrorIs(t, <-refused, crew.ErrClosed)
			close(b.release)
			require.NoError(t, <-closed)
			s := p.Stats()
			assert.EqualValues(t, 2, s.Submitted)
			assert.EqualValues(t, 1, s.Rejected)
		})
	})
}

func TestConformanceCloseFromOwnJob(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		if blindClose[k.name] {
			t.Skip("a base crew cannot see into cannot tell its jobs' ctxs; Retry's doc says Close then waits for itself")
		}
		synctest.Test(t, func(t *testing.T) {
			p := k.new(1)
			f, err := p.Submit(context.Background(), func(ctx context.Context) (int, error) {
				if err := p.Close(ctx); err == nil {
					return 0, errors.New("Close from a job returned nil")
				}
				_, err := p.Submit(ctx, value(0))
				if !errors.Is(err, crew.ErrClosed) {
					return 0, fmt.Errorf("Submit after Close: %v", err)
				}
				return 1, nil
			})
			require.NoError(t, err)
			v, err := f.Wait(context.Background())
			require.NoError(t, err)
			require.Equal(t, 1, v)
			require.NoError(t, p.Close(context.Background()))
		})
	})
}

// TestConformanceCloseNilContext: Close(nil) says what is wrong.
func TestConformanceCloseNilContext(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		p := k.new(1)
		assert.ErrorContains(t, p.Close(nilCtx), "Close called with a nil context.Context")
		require.NoError(t, p.Close(context.Background()))
	})
}
