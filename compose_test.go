package crew_test

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

func TestChainGuardProtocol(t *testing.T) {
	refused := &crew.RejectedError{Guard: "b", Err: errors.New("no")}
	tests := []struct {
		name          string
		giveAdmitErrB error // what guard b's Admit says
		giveStartErrB error // what guard b's Start says
		giveJobErr    error // what the job returns
		want          []string
		wantErr       error
		wantStats     crew.Stats
	}{
		{
			name:      "success",
			want:      []string{"a.Admit", "b.Admit", "a.Start", "b.Start", "b.Done", "a.Done"},
			wantStats: crew.Stats{Submitted: 1, Completed: 1},
		},
		{
			name:       "job error reaches Done",
			giveJobErr: errors.New("job failed"),
			want:       []string{"a.Admit", "b.Admit", "a.Start", "b.Start", "b.Done", "a.Done"},
			wantStats:  crew.Stats{Submitted: 1, Completed: 1, Failed: 1},
		},
		{
			name:          "refused at admit",
			giveAdmitErrB: refused,
			want:          []string{"a.Admit", "b.Admit", "a.Abandon"},
			wantErr:       refused,
			wantStats:     crew.Stats{Rejected: 1},
		},
		{
			name:          "refused at start",
			giveStartErrB: refused,
			want:          []string{"a.Admit", "b.Admit", "a.Start", "b.Start", "a.Done"},
			wantErr:       refused,
			wantStats:     crew.Stats{Submitted: 1, Canceled: 1, Refused: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"engine", "foreign"} {
				t.Run(k, func(t *testing.T) {
					log := &callLog{}
					a := &recGuard{name: "a", log: log}
					b := &recGuard{name: "b", log: log, admitErr: tt.giveAdmitErrB, startErr: tt.giveStartErrB}
					var base crew.Pool[int] = crew.NewPool[int](1)
					if k == "foreign" {
						base = foreignPool[int]{base}
					}
					p := crew.Chain(base, a, b)
					_, err := crew.Do(context.Background(), p, func(context.Context) (int, error) {
						log.add("job")
						return 0, tt.giveJobErr
					})
					if tt.wantErr != nil {
						require.ErrorIs(t, err, tt.wantErr)
					} else {
						require.Equal(t, tt.giveJobErr, err)
					}
					require.NoError(t, p.Close(context.Background()))
					want := tt.want
					if tt.giveAdmitErrB == nil && tt.giveStartErrB == nil {
						want = append(want[:4:4], append([]string{"job"}, want[4:]...)...)
					}
					require.Equal(t, want, log.take())
					if tt.giveAdmitErrB == nil && tt.giveStartErrB == nil {
						assert.Equal(t, crew.Ticket(42), a.lastTicket, "Done gets Start's ticket")
						assert.Equal(t, tt.giveJobErr, a.lastErr)
					}
					if tt.giveStartErrB != nil {
						assert.ErrorIs(t, a.lastErr, refused, "an outer guard learns of an inner refusal")
					}
					if k == "engine" || tt.giveStartErrB == nil {
						assert.Equal(t, tt.wantStats, p.Stats())
					}
				})
			}
		})
	}
}

func TestChainAbandonWhenQueuedJobLeaves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &callLog{}
		pool := crew.NewPool[int](1, crew.WithQueueSize(1), crew.WithNonBlocking())
		p := crew.Chain[int](pool, &recGuard{name: "g", log: log})
		occupy(t, p) // released by Close giving up
		ctx, cancel := context.WithCancel(context.Background())
		f, err := p.Submit(ctx, value(1))
		require.NoError(t, err)
		_, err = p.Submit(context.Background(), value(2)) // queue full
		require.ErrorIs(t, err, crew.ErrQueueFull)
		log.take()
		cancel()
		_, err = f.Wait(context.Background())
		require.ErrorIs(t, err, context.Canceled)
		synctest.Wait()
		require.Equal(t, []string{"g.Abandon"}, log.take(), "a job cancelled while queued is abandoned")

		// Close gives up on a queued job: abandoned too.
		_, err = p.Submit(context.Background(), value(3))
		require.NoError(t, err)
		log.take()
		cctx, ccancel := context.WithCancel(context.Background())
		ccancel()
		require.ErrorIs(t, p.Close(cctx), context.Canceled)
		require.Contains(t, log.take(), "g.Abandon")
		s := p.Stats()
		assert.EqualValues(t, 1, s.Rejected)
		assert.Equal(t, s.Submitted, s.Completed+s.Canceled)
	})
}

func TestChainFlattens(t *testing.T) {
	log := &callLog{}
	a, b := &recGuard{name: "a", log: log}, &recGuard{name: "b", log: log}
	p := crew.Chain(crew.Chain[int](crew.NewPool[int](1), a), b)
	_, err := crew.Do(context.Background(), p, value(1))
	require.NoError(t, err)
	require.NoError(t, p.Close(context.Background()))
	require.Equal(t, []string{"b.Admit", "a.Admit", "b.Start", "a.Start", "a.Done", "b.Done"}, log.take())
}

func TestChainBadInput(t *testing.T) {
	require.PanicsWithValue(t, "crew: Chain: the base pool is nil", func() { crew.Chain[int](nil) })
	p := crew.NewPool[int](1)
	defer p.Close(context.Background())
	require.PanicsWithValue(t, "crew: Chain: guard 1 is nil", func() { crew.Chain[int](p, passGuard{}, nil) })
	require.PanicsWithValue(t, "crew: Chain: guard 0 is a nil *crew.Breaker", func() { crew.Chain[int](p, (*crew.Breaker)(nil)) },
		"a nil pointer in the interface panicked later with a nil dereference")
	require.PanicsWithValue(t, "crew: Chain: the base pool is nil", func() { crew.Chain[int]((*crew.WorkerPool[int])(nil)) })
	require.Equal(t, crew.Pool[int](p), crew.Chain[int](p), "no guards: the base itself")
}

func TestChainGuardsHearOfGoexit(t *testing.T) {
	log := &callLog{}
	g := &recGuard{name: "g", log: log}
	p := crew.Chain[int](crew.NewPool[int](1), g)
	_, err := crew.Do(context.Background(), p, func(context.Context) (int, error) {
		runtime.Goexit()
		return 0, nil
	})
	var pe *crew.PanicError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, []string{"g.Admit", "g.Start", "g.Done"}, log.take())
	require.ErrorAs(t, g.lastErr, &pe, "a breaker must see a Goexit as a failure, or a probe slot stays taken")
	require.NoError(t, p.Close(context.Background()))
}

// TestChainAbandonBeforeResolve: when a dropped job's Future resolves, its
// guards have already been told, so a caller that resubmits at once finds
// them up to date.
func TestChainAbandonBeforeResolve(t *testing.T) {
	g := &orderGuard{}
	p := crew.Chain[int](crew.NewPool[int](1), g)
	b := occupy(t, p)
	for range 20 {
		ctx, cancel := context.WithCancel(context.Background())
		f, err := p.Submit(ctx, value(1))
		require.NoError(t, err)
		g.watch.Store(f)
		cancel()
		_, err = f.Wait(context.Background())
		require.ErrorIs(t, err, context.Canceled)
		require.True(t, g.abandoned.Load(), "the Future resolved before Abandon was called")
		require.False(t, g.late.Load(), "Abandon was called after the Future resolved")
		g.abandoned.Store(false)
	}
	close(b.release)
	require.NoError(t, p.Close(context.Background()))
}

// orderGuard notes whether Abandon ran before the watched Future resolved.
type orderGuard struct {
	passGuard
	watch     atomic.Pointer[crew.Future[int]]
	abandoned atomic.Bool
	late      atomic.Bool
}

func (g *orderGuard) Abandon(crew.Ticket) {
	if f := g.watch.Load(); f != nil {
		select {
		case <-f.Done():
			g.late.Store(true)
		default:
		}
	}
	g.abandoned.Store(true)
}
