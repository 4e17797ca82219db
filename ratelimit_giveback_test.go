package crew_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
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

// TestRateLimiterCancelledWaitLeavesTheLine: a job whose ctx ends while it
// waits in Start for its token no longer counts among the jobs ahead that
// Submit estimates from (guarantee 7), as a job dropped from the queue
// does not (TestRateLimiterJobThatNeverStartsLeavesTheLine).
func TestRateLimiterCancelledWaitLeavesTheLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.Chain(crew.NewPool[int](1), crew.NewRateLimiter(10, 1, crew.WithMaxWait(150*time.Millisecond)))
		_, err := crew.Do(context.Background(), p, value(0))
		require.NoError(t, err, "takes the token: the next comes at 100ms")
		ctx, cancel := context.WithCancel(context.Background())
		waiting, err := p.Submit(ctx, value(1))
		require.NoError(t, err, "first in line: 100ms")
		synctest.Wait() // its worker waits in the limiter's Start
		_, err = p.Submit(context.Background(), value(2))
		require.ErrorIs(t, err, crew.ErrRateLimited, "second in line: 200ms")
		cancel()
		_, err = waiting.Wait(context.Background())
		require.ErrorIs(t, err, context.Canceled)
		v, err := crew.Do(context.Background(), p, value(3))
		require.NoError(t, err, "first in line again")
		assert.Equal(t, 3, v)
		require.NoError(t, p.Close(context.Background()))
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

// gate is one job's passage through gateGuard: Start closes reached, then
// lets the job through or refuses it with what it receives from decide.
type gate struct {
	reached chan struct{}
	decide  chan error
}

func newGate() gate { return gate{make(chan struct{}), make(chan error, 1)} }

type gateKey struct{}

// gateGuard is a guard that holds each job whose ctx carries a gate at
// Start until the test decides it.
type gateGuard struct{ passGuard }

func (gateGuard) Start(ctx context.Context, _ crew.Ticket) (crew.Ticket, error) {
	g, ok := ctx.Value(gateKey{}).(gate)
	if !ok {
		return 0, nil
	}
	close(g.reached)
	select {
	case err := <-g.decide:
		return 0, err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// startsAt records when each named job starts, since t0.
type startsAt struct {
	t0 time.Time
	mu sync.Mutex
	at map[string]time.Duration
}

func newStartsAt() *startsAt { return &startsAt{t0: time.Now(), at: map[string]time.Duration{}} }

func (s *startsAt) job(name string) crew.Job[int] {
	return func(context.Context) (int, error) {
		s.mu.Lock()
		s.at[name] = time.Since(s.t0)
		s.mu.Unlock()
		return 0, nil
	}
}

func (s *startsAt) get() map[string]time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.at)
}

var errGate = &crew.RejectedError{Guard: "gate", Err: errors.New("refused at the gate")}

// TestRateLimiterGivesBackARefusedJobsToken: a job that a later guard of
// the Chain refuses at Start never starts, so its token goes back
// (guarantee 7): at 1/s with a burst of 1, the job after it starts at
// once, not a second later.
func TestRateLimiterGivesBackARefusedJobsToken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := crew.NewRateLimiter(1, 1)
		p := crew.Chain(crew.NewPool[int](2), lim, gateGuard{})
		s := newStartsAt()
		g := newGate()
		fa, err := p.Submit(context.WithValue(context.Background(), gateKey{}, g), s.job("A"))
		require.NoError(t, err)
		<-g.reached // A holds the only token
		time.Sleep(300 * time.Millisecond)
		g.decide <- errGate
		_, err = fa.Wait(context.Background())
		require.ErrorIs(t, err, errGate.Err)
		_, err = crew.Do(context.Background(), p, s.job("B"))
		require.NoError(t, err)
		require.NoError(t, p.Close(context.Background()))
		assert.Equal(t, map[string]time.Duration{"B": 300 * time.Millisecond}, s.get())
		st := lim.Stats()
		assert.Equal(t, uint64(1), st.GaveBack)
		assert.Equal(t, uint64(2), st.Started, "A passed the limiter's Start")
	})
}

// TestRateLimiterGivesBackToTheWaitingJob: the job waiting in line for the
// next token gets the one given back, at once.
func TestRateLimiterGivesBackToTheWaitingJob(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.Chain(crew.NewPool[int](2), crew.NewRateLimiter(1, 1), gateGuard{})
		s := newStartsAt()
		g := newGate()
		_, err := p.Submit(context.WithValue(context.Background(), gateKey{}, g), s.job("A"))
		require.NoError(t, err)
		<-g.reached
		fb, err := p.Submit(context.Background(), s.job("B")) // waits for +1s
		require.NoError(t, err)
		time.Sleep(400 * time.Millisecond)
		g.decide <- errGate
		_, err = fb.Wait(context.Background())
		require.NoError(t, err)
		require.NoError(t, p.Close(context.Background()))
		assert.Equal(t, map[string]time.Duration{"B": 400 * time.Millisecond}, s.get())
	})
}

// TestRateLimiterGiveBackWaitsForLaterTokens: with a burst of 2, A and B
// take both tokens; A is refused first, while B's token is out, so A's
// cannot go back yet; once B is refused too, both go back. Had B started,
// A's token would have stayed spent: the bucket can only be wound back
// past tokens that all came back.
func TestRateLimiterGiveBackWaitsForLaterTokens(t *testing.T) {
	for _, bStarts := range []bool{false, true} {
		t.Run(fmt.Sprintf("B starts %v", bStarts), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				lim := crew.NewRateLimiter(1, 2)
				p := crew.Chain(crew.NewPool[int](4), lim, gateGuard{})
				s := newStartsAt()
				ga, gb := newGate(), newGate()
				_, err := p.Submit(context.WithValue(context.Background(), gateKey{}, ga), s.job("A"))
				require.NoError(t, err)
				<-ga.reached
				_, err = p.Submit(context.WithValue(context.Background(), gateKey{}, gb), s.job("B"))
				require.NoError(t, err)
				<-gb.reached
				ga.decide <- errGate
				synctest.Wait()
				assert.Zero(t, lim.Stats().GaveBack, "A's token went back over B's")
				if bStarts {
					gb.decide <- nil
				} else {
					gb.decide <- errGate
				}
				synctest.Wait()
				fc, err := p.Submit(context.Background(), s.job("C"))
				require.NoError(t, err)
				fd, err := p.Submit(context.Background(), s.job("D"))
				require.NoError(t, err)
				_, err = fc.Wait(context.Background())
				require.NoError(t, err)
				_, err = fd.Wait(context.Background())
				require.NoError(t, err)
				require.NoError(t, p.Close(context.Background()))
				got := s.get()
				if bStarts {
					// B's token is spent; A's cannot go back past it, so
					// the bucket is empty: C and D wait a second each.
					assert.Equal(t, uint64(0), lim.Stats().GaveBack)
					assert.Equal(t, time.Duration(0), got["B"])
					assert.ElementsMatch(t, []time.Duration{time.Second, 2 * time.Second}, []time.Duration{got["C"], got["D"]})
				} else {
					assert.Equal(t, uint64(2), lim.Stats().GaveBack)
					assert.Equal(t, map[string]time.Duration{"C": 0, "D": 0}, got)
				}
			})
		})
	}
}
