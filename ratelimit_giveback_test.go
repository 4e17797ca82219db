package crew_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/crew-go/crew"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"
)

// TestRateLimiterCancelledWaitMovesTheLineUp: a cancelled wait gives its
// token back to the jobs waiting behind it (guarantee 7): the one behind
// it becomes first in line, so C and D start at +1s and +2s, not at the
// +2s and +3s they had behind B.
func TestRateLimiterCancelledWaitMovesTheLineUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.Chain(crew.NewPool[int](8), crew.NewRateLimiter(1, 1))
		t0 := time.Now()
		var mu sync.Mutex
		started := map[string]time.Duration{}
		job := func(name string) crew.Job[int] {
			return func(context.Context) (int, error) {
				mu.Lock()
				started[name] = time.Since(t0)
				mu.Unlock()
				return 0, nil
			}
		}
		_, err := crew.Do(context.Background(), p, job("A")) // the token at t0
		require.NoError(t, err)
		ctxB, cancelB := context.WithCancel(context.Background())
		_, err = p.Submit(ctxB, job("B")) // waits for +1s
		require.NoError(t, err)
		synctest.Wait()
		fC, err := p.Submit(context.Background(), job("C")) // +2s
		require.NoError(t, err)
		// C reserves before D: workers take jobs in any order.
		synctest.Wait()
		fD, err := p.Submit(context.Background(), job("D")) // +3s
		require.NoError(t, err)
		synctest.Wait()
		time.Sleep(500 * time.Millisecond)
		cancelB()
		_, err = fC.Wait(context.Background())
		require.NoError(t, err)
		_, err = fD.Wait(context.Background())
		require.NoError(t, err)
		require.NoError(t, p.Close(context.Background()))
		assert.Equal(t, map[string]time.Duration{"A": 0, "C": time.Second, "D": 2 * time.Second}, started)
	})
}

// TestRateLimiterCancelledWaitKeepsTheBound: after a wait ahead is
// cancelled and the line moves up, a job that arrives later still starts
// no earlier than the bound allows (no tolerance): a waiter never held a
// token, so the one that leaves gives back nothing that was counted.
func TestRateLimiterCancelledWaitKeepsTheBound(t *testing.T) {
	for _, limit := range []rate.Limit{1e6, 1000, 10} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				interval := time.Duration(float64(time.Second) / float64(limit))
				p := crew.Chain(crew.NewPool[int](8), crew.NewRateLimiter(limit, 1))
				var mu sync.Mutex
				var starts []time.Time
				job := func(context.Context) (int, error) {
					mu.Lock()
					starts = append(starts, time.Now())
					mu.Unlock()
					return 0, nil
				}
				submit := func(ctx context.Context) {
					_, err := p.Submit(ctx, job)
					require.NoError(t, err)
				}
				// Each synctest.Wait lets the job reach the limiter before the
				// next is submitted: workers take jobs in any order.
				submit(context.Background()) // starts at once
				synctest.Wait()
				ctxB, cancelB := context.WithCancel(context.Background())
				submit(ctxB) // waits one interval
				synctest.Wait()
				time.Sleep(7 * time.Nanosecond)
				submit(context.Background()) // waits two
				synctest.Wait()
				time.Sleep(7 * time.Nanosecond)
				cancelB()
				synctest.Wait()
				submit(context.Background()) // arrives late
				time.Sleep(4 * interval)
				require.NoError(t, p.Close(context.Background()))
				require.Len(t, starts, 3)
				checkWindowBound(t, starts, limit, 1)
			})
		})
	}
}
