package crew_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

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
				h := holdWorker(t, p)
				log := &prioLog{}
				futures := make([]*crew.Future[string], len(tt.give))
				var refused []int
				for i, s := range tt.give {
					time.Sleep(s.after)
					f, err := p.Submit(crew.WithPriority(context.Background(), s.prio), log.job(fmt.Sprint(i)))
					if errors.Is(err, crew.ErrQueueFull) {
						refused = append(refused, i)
						continue
					}
					if err != nil {
						t.Fatalf("Submit %d: %v", i, err)
					}
					futures[i] = f
				}
				var evicted []int
				for i, f := range futures {
					if f == nil {
						continue
					}
					select {
					case <-f.Done():
					default:
						continue
					}
					_, err := f.Wait(context.Background())
					var rej *crew.RejectedError
					if !errors.Is(err, crew.ErrQueueFull) || !errors.As(err, &rej) {
						t.Fatalf("job %d resolved early with %v, want a *RejectedError matching ErrQueueFull", i, err)
					}
					evicted = append(evicted, i)
				}
				if s := p.Stats(); s.Canceled != uint64(len(evicted)) || s.Queued != len(tt.wantRan) {
					t.Errorf("Stats: Canceled %d, Queued %d; want %d, %d", s.Canceled, s.Queued, len(evicted), len(tt.wantRan))
				}
				close(h.release)
				if err := p.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				var ran []int
				for _, l := range log.order() {
					var i int
					fmt.Sscan(l, &i)
					ran = append(ran, i)
				}
				if !slices.Equal(evicted, tt.wantEvicted) || !slices.Equal(refused, tt.wantRefused) || !slices.Equal(ran, tt.wantRan) {
					t.Errorf("evicted %v, refused %v, ran %v; want %v, %v, %v", evicted, refused, ran, tt.wantEvicted, tt.wantRefused, tt.wantRan)
				}
				if s := p.Stats(); s.Submitted != s.Completed+s.Canceled {
					t.Errorf("Stats after Close: %+v", s)
				}
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
						if !errors.Is(err, crew.ErrClosed) && !errors.Is(err, crew.ErrQueueFull) && !errors.Is(err, context.Canceled) {
							t.Errorf("Submit: %v", err)
						}
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
		if err := p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, f := range accepted {
			if _, ok := f.Result(); !ok {
				t.Fatal("an accepted job's Future never resolved")
			}
		}
		if s := p.Stats(); s.Submitted != uint64(len(accepted)) || s.Submitted != s.Completed+s.Canceled || s.Queued != 0 {
			t.Fatalf("round %d: %d accepted, Stats %+v", round, len(accepted), s)
		}
	}
}
