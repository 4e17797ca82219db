package crew_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

// TestAdaptivePriorityOrder: WithPriorityOrder gives an adaptive pool the
// priority queue: urgent first, FIFO among equals, while workers come and go.
func TestAdaptivePriorityOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.NewAdaptivePool[int](0, 1, crew.WithPriorityOrder(), crew.WithAging(0), crew.WithIdleTimeout(time.Second))
		release := make(chan struct{})
		_, err := p.Submit(context.Background(), func(context.Context) (int, error) {
			<-release
			return 0, nil
		})
		require.NoError(t, err)
		synctest.Wait()
		var order []string
		var last *crew.Future[int]
		for _, job := range []struct {
			name string
			prio int
		}{{"low1", 0}, {"high1", 5}, {"low2", 0}, {"high2", 5}, {"mid", 2}} {
			f, err := p.Submit(crew.WithPriority(context.Background(), job.prio), func(context.Context) (int, error) {
				order = append(order, job.name) // one worker: no race
				return 0, nil
			})
			require.NoError(t, err)
			last = f
		}
		close(release)
		synctest.Wait()
		_, err = last.Wait(context.Background())
		require.NoError(t, err)
		assert.Equal(t, []string{"high1", "high2", "mid", "low1", "low2"}, order)
		time.Sleep(2 * time.Second) // fake time: the worker retires
		assert.Zero(t, p.Stats().Workers)
		require.NoError(t, p.Close(context.Background()))
	})
}

// TestAdaptiveLimitControlGrowsAtOnce: with the limit controller on, a
// backlog still gets every worker within milliseconds (guarantee 9); the
// limit falls later, if latency says so.
func TestAdaptiveLimitControlGrowsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.NewAdaptivePool[int](0, 32, crew.WithLimitControl(crew.LimitConfig{}))
		for range 200 {
			_, err := p.Submit(context.Background(), func(context.Context) (int, error) {
				time.Sleep(100 * time.Millisecond)
				return 0, nil
			})
			require.NoError(t, err)
		}
		time.Sleep(time.Millisecond)
		assert.Equal(t, 32, p.Stats().Workers)
		require.NoError(t, p.Close(context.Background()))
	})
}
