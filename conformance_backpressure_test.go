package crew_test

// Bounded queues, over every pool kind (guarantee 3).

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

func TestConformanceBackpressure(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		synctest.Test(t, func(t *testing.T) {
			p := k.new(1, crew.WithQueueSize(2))
			b := occupy(t, p)
			for range 2 {
				_, err := p.Submit(context.Background(), value(0))
				require.NoError(t, err)
			}
			// Full: a blocking Submit waits until its ctx ends.
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			start := time.Now()
			_, err := p.Submit(ctx, value(0))
			cancel()
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.Equal(t, time.Second, time.Since(start))
			require.Equal(t, 2, p.Stats().Queued)

			// A waiting Submit gets in as soon as room appears.
			accepted := make(chan error)
			go func() {
				_, err := p.Submit(context.Background(), value(0))
				accepted <- err
			}()
			synctest.Wait()
			require.False(t, received(accepted), "Submit returned while the queue was full")
			close(b.release)
			require.NoError(t, <-accepted)
			require.NoError(t, p.Close(context.Background()))
			s := p.Stats()
			assert.EqualValues(t, 4, s.Submitted)
			assert.EqualValues(t, 1, s.Rejected)
		})
	})
}

func TestConformanceNonBlocking(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		p := k.new(1, crew.WithQueueSize(1), crew.WithNonBlocking())
		b := occupy(t, p)
		_, err := p.Submit(context.Background(), value(0))
		require.NoError(t, err)
		_, err = p.Submit(context.Background(), value(0))
		require.ErrorIs(t, err, crew.ErrQueueFull)
		var rej *crew.RejectedError
		require.ErrorAs(t, err, &rej)
		require.NotEmpty(t, rej.Guard)
		close(b.release)
		require.NoError(t, p.Close(context.Background()))
	})
}

func TestConformanceZeroQueueHandsOff(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		p := k.new(2, crew.WithQueueSize(0), crew.WithNonBlocking())
		b1 := occupy(t, p)
		b2 := occupy(t, p) // a queue of 0 still hands jobs to free workers
		_, err := p.Submit(context.Background(), value(0))
		require.ErrorIs(t, err, crew.ErrQueueFull)
		close(b1.release)
		close(b2.release)
		require.NoError(t, p.Close(context.Background()))
	})
}

func TestConformanceNestedSubmitDoesNotDeadlock(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		synctest.Test(t, func(t *testing.T) {
			p := k.new(1, crew.WithQueueSize(1))
			release := make(chan struct{})
			outer, err := p.Submit(context.Background(), func(ctx context.Context) (int, error) {
				<-release
				// The queue is full and only this job could free it.
				_, err := p.Submit(ctx, value(0))
				if !errors.Is(err, crew.ErrQueueFull) {
					return 0, fmt.Errorf("nested Submit: got %v, want ErrQueueFull", err)
				}
				return 1, nil
			})
			require.NoError(t, err)
			_, err = p.Submit(context.Background(), value(0))
			require.NoError(t, err)
			close(release)
			v, err := outer.Wait(context.Background())
			require.NoError(t, err)
			require.Equal(t, 1, v)
			require.NoError(t, p.Close(context.Background()))
		})
	})
}

// TestConformanceCancelledJobFreesRoom: a queued job that leaves on
// cancellation hands its place to a blocked Submit at once.
func TestConformanceCancelledJobFreesRoom(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		synctest.Test(t, func(t *testing.T) {
			p := k.new(1, crew.WithQueueSize(1))
			b := occupy(t, p)
			ctx, cancel := context.WithCancel(context.Background())
			_, err := p.Submit(ctx, value(0))
			require.NoError(t, err)
			accepted := make(chan error)
			go func() {
				_, err := p.Submit(context.Background(), value(0))
				accepted <- err
			}()
			synctest.Wait()
			cancel()
			require.NoError(t, <-accepted, "the cancelled job's place went to the waiting Submit")
			require.Equal(t, 1, p.Stats().Queued)
			close(b.release)
			require.NoError(t, p.Close(context.Background()))
		})
	})
}

// TestConformanceBlockedSubmitGetsAFreedWorker pins a lost wake-up: with no
// waiting room, a blocked Submit must get the worker that turns idle (room
// that appears without a queue pop).
func TestConformanceBlockedSubmitGetsAFreedWorker(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		synctest.Test(t, func(t *testing.T) {
			p := k.new(1, crew.WithQueueSize(0))
			b := occupy(t, p)
			accepted := make(chan error)
			go func() {
				_, err := p.Submit(context.Background(), value(2))
				accepted <- err
			}()
			synctest.Wait()
			close(b.release)
			require.NoError(t, <-accepted)
			require.NoError(t, p.Close(context.Background()))
			s := p.Stats()
			assert.EqualValues(t, 2, s.Completed)
		})
	})
}
