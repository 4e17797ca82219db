package crew_test

// Submit, cancellation, panics and Close racing, over every pool kind
// (guarantee 1).

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

// TestConformanceChaos hammers Submit, cancellation, panics and Close from
// many goroutines and checks guarantee 1: every accepted job resolves exactly
// once, none runs twice, none is lost, and the counters add up.
func TestConformanceChaos(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		for round := range 10 {
			chaosRound(t, k, uint64(round))
		}
	})
}

func chaosRound(t *testing.T, k poolKind, seed uint64) {
	const submitters, perSubmitter = 8, 200
	p := k.new(3, crew.WithQueueSize(8))
	var runs [submitters * perSubmitter]atomic.Int32
	var accepted, rejected atomic.Int64
	type sub struct {
		id int
		f  *crew.Future[int]
	}
	futures := make(chan sub, submitters*perSubmitter)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for s := range submitters {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(s)))
			var cancels []context.CancelFunc
			defer func() {
				for _, c := range cancels {
					c()
				}
			}()
			<-start
			for i := range perSubmitter {
				id := s*perSubmitter + i
				ctx, cancel := context.WithCancel(context.Background())
				cancels = append(cancels, cancel)
				mode := rng.IntN(6)
				f, err := p.Submit(ctx, func(ctx context.Context) (int, error) {
					runs[id].Add(1)
					switch mode {
					case 0:
						panic("chaos")
					case 1:
						return 0, errors.New("chaos")
					case 2:
						runtime.Gosched()
					}
					return id, nil
				})
				if mode == 3 || mode == 4 {
					cancel() // often while queued
				}
				if err != nil {
					rejected.Add(1)
					continue
				}
				accepted.Add(1)
				futures <- sub{id, f}
			}
		})
	}
	close(start)
	// Close races the submitters, with a deadline that sometimes fires.
	closeCtx, cancelClose := context.WithTimeout(context.Background(), time.Duration(seed%3)*time.Millisecond)
	defer cancelClose()
	closeErr := p.Close(closeCtx)
	wg.Wait()
	close(futures)
	if closeErr != nil {
		require.ErrorIs(t, closeErr, context.DeadlineExceeded)
	}

	ran := 0
	for s := range futures {
		require.True(t, isResolved(s.f), "job %d: Future unresolved after Close returned", s.id)
		v, err := s.f.Wait(context.Background())
		n := runs[s.id].Load()
		if retrying[k.name] {
			// A job that failed may have run again; Completed counts the
			// jobs whose last attempt ran.
			require.LessOrEqual(t, n, int32(quickAttempts), "job %d ran %d times", s.id, n)
			var pe *crew.PanicError
			switch {
			case err == nil:
				require.Equal(t, s.id, v)
				ran++
			case errors.As(err, &pe), err.Error() == "chaos":
				require.GreaterOrEqual(t, n, int32(1))
				ran++
			}
			if n > 1 {
				require.False(t, errors.As(err, &pe), "job %d panicked and ran again", s.id)
			}
			continue
		}
		require.LessOrEqual(t, n, int32(1), "job %d ran %d times", s.id, n)
		if n == 1 {
			ran++
			if err == nil {
				require.Equal(t, s.id, v)
			}
			continue
		}
		// Never ran: cancelled while queued, or Close gave up on it.
		var rej *crew.RejectedError // a guard may refuse it at start
		require.True(t, errors.Is(err, context.Canceled) || errors.Is(err, crew.ErrClosed) || errors.As(err, &rej),
			"job %d never ran but resolved with %v", s.id, err)
	}
	for id := range runs {
		if !retrying[k.name] {
			require.LessOrEqual(t, runs[id].Load(), int32(1))
		}
	}
	st := p.Stats()
	require.Equal(t, uint64(accepted.Load()), st.Submitted)
	require.Equal(t, uint64(rejected.Load()), st.Rejected)
	require.Equal(t, st.Submitted, st.Completed+st.Canceled, "%+v", st)
	require.Equal(t, uint64(ran), st.Completed)
	require.Zero(t, st.Workers)
	require.Zero(t, st.Busy)
	require.Zero(t, st.Queued)
}
