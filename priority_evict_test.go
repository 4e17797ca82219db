package crew_test

// WithEvictLowest: a full queue makes room for a higher-priority job by
// refusing its lowest queued one; and a hammer of Submits, cancellations
// and evictions racing Close.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

func TestPriorityEvictLowest(t *testing.T) {
	type sub struct {
		prio  int
		after time.Duration // fake time before this Submit
	}
	tests := []struct {
		name        string
		opts        []crew.Option
		give        []sub
		wantEvicted []int // indexes into give
		wantRefused []int // indexes whose Submit returned ErrQueueFull
		wantRan     []int // in order
	}{
		{
			name:        "newest of the lowest goes",
			opts:        []crew.Option{crew.WithEvictLowest()},
			give:        []sub{{prio: 0}, {prio: 0}, {prio: 1}, {prio: 0}, {prio: 1}, {prio: 1}},
			wantEvicted: []int{0, 1},
			wantRefused: []int{3, 5}, // not strictly above the lowest queued job
			wantRan:     []int{2, 4},
		},
		{
			name:        "strict",
			opts:        []crew.Option{crew.WithEvictLowest(), crew.WithAging(0)},
			give:        []sub{{prio: 3}, {prio: -1}, {prio: 3}, {prio: 4}},
			wantEvicted: []int{1, 2},
			wantRan:     []int{3, 0},
		},
		{
			name:        "an aged job outranks a new higher one",
			opts:        []crew.Option{crew.WithEvictLowest(), crew.WithAging(10 * time.Millisecond)},
			give:        []sub{{prio: 0}, {prio: 0}, {prio: 2, after: 25 * time.Millisecond}},
			wantRefused: []int{2}, // 20ms of credit, but the queued jobs waited 25ms
			wantRan:     []int{0, 1},
		},
		{
			name:        "off without the option",
			give:        []sub{{prio: 0}, {prio: 0}, {prio: 9}},
			wantRefused: []int{2},
			wantRan:     []int{0, 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				opts := append([]crew.Option{crew.WithQueueSize(2), crew.WithNonBlocking()}, tt.opts...)
				p := crew.NewPriorityPool[string](1, opts...)
				blk := occupy(t, p)
				log := &callLog{}
				futures := make([]*crew.Future[string], len(tt.give))
				var refused []int
				for i, s := range tt.give {
					time.Sleep(s.after)
					f, err := p.Submit(crew.WithPriority(context.Background(), s.prio), log.job(fmt.Sprint(i)))
					if errors.Is(err, crew.ErrQueueFull) {
						refused = append(refused, i)
						continue
					}
					require.NoError(t, err, "Submit %d", i)
					futures[i] = f
				}
				var evicted []int
				for i, f := range futures {
					if f == nil || !isResolved(f) {
						continue
					}
					_, err := f.Wait(context.Background())
					assert.ErrorIs(t, err, crew.ErrQueueFull, "job %d resolved early", i)
					var rej *crew.RejectedError
					assert.ErrorAs(t, err, &rej, "job %d resolved early", i)
					evicted = append(evicted, i)
				}
				s := p.Stats()
				assert.Equal(t, uint64(len(evicted)), s.Canceled)
				assert.Equal(t, len(tt.wantRan), s.Queued)
				close(blk.release)
				require.NoError(t, p.Close(context.Background()))
				var ran []int
				for _, l := range log.take() {
					i, err := strconv.Atoi(l)
					require.NoError(t, err)
					ran = append(ran, i)
				}
				assert.Equal(t, tt.wantEvicted, evicted, "evicted")
				assert.Equal(t, tt.wantRefused, refused, "refused")
				assert.Equal(t, tt.wantRan, ran, "ran")
				s = p.Stats()
				assert.Equal(t, s.Submitted, s.Completed+s.Canceled, "%+v", s)
			})
		})
	}
}

// TestPriorityHammer submits with random priorities, cancels and evicts
// from many goroutines while Close races them, and checks that every
// accepted job resolved exactly once and the counters add up.
func TestPriorityHammer(t *testing.T) {
	for round := range 20 {
		p := crew.NewPriorityPool[int](3, crew.WithQueueSize(8), crew.WithEvictLowest(), crew.WithAging(time.Microsecond))
		var wg sync.WaitGroup
		var mu sync.Mutex
		var accepted []*crew.Future[int]
		for g := range 8 {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(round), uint64(g)))
				var cancels []context.CancelFunc
				defer func() {
					for _, c := range cancels {
						c()
					}
				}()
				for range 200 {
					ctx, cancel := context.WithCancel(crew.WithPriority(context.Background(), r.IntN(8)))
					f, err := p.Submit(ctx, func(context.Context) (int, error) { return 1, nil })
					if r.IntN(3) == 0 {
						cancel() // queued or running or done: all fine
					} else {
						cancels = append(cancels, cancel)
					}
					if err != nil {
						assert.True(t, errors.Is(err, crew.ErrClosed) || errors.Is(err, crew.ErrQueueFull) || errors.Is(err, context.Canceled),
							"Submit: %v", err)
						continue
					}
					mu.Lock()
					accepted = append(accepted, f)
					mu.Unlock()
				}
			})
		}
		if round%2 == 0 {
			_ = p.Close(context.Background())
		}
		wg.Wait()
		require.NoError(t, p.Close(context.Background()))
		for i, f := range accepted {
			require.True(t, isResolved(f), "round %d: accepted job %d unresolved after Close", round, i)
		}
		s := p.Stats()
		require.Equal(t, uint64(len(accepted)), s.Submitted, "round %d", round)
		require.Equal(t, s.Submitted, s.Completed+s.Canceled, "round %d: %+v", round, s)
		require.Zero(t, s.Queued, "round %d", round)
		require.Zero(t, s.Workers, "round %d", round)
	}
}
