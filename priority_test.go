package crew_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/crew-go/crew"
)

// prioHold occupies a pool's only worker until released, so that the jobs
// queued behind it run in the queue's order alone.
type prioHold struct {
	started, release chan struct{}
}

// holdWorker submits a job that blocks the worker, and waits until it runs.
func holdWorker(t *testing.T, p crew.Pool[string]) *prioHold {
	t.Helper()
	h := &prioHold{started: make(chan struct{}), release: make(chan struct{})}
	_, err := p.Submit(context.Background(), func(context.Context) (string, error) {
		close(h.started)
		<-h.release
		return "hold", nil
	})
	if err != nil {
		t.Fatalf("Submit(hold): %v", err)
	}
	<-h.started
	return h
}

// prioLog records the order in which jobs run.
type prioLog struct {
	mu  sync.Mutex
	ran []string
}

func (l *prioLog) job(label string) crew.Job[string] {
	return func(context.Context) (string, error) {
		l.mu.Lock()
		l.ran = append(l.ran, label)
		l.mu.Unlock()
		return label, nil
	}
}

func (l *prioLog) order() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.ran)
}

// prioCtx returns a ctx with priority p, or a plain one for p == noPrio.
func prioCtx(p int) context.Context {
	if p == noPrio {
		return context.Background()
	}
	return crew.WithPriority(context.Background(), p)
}

const noPrio = math.MinInt32 // a ctx without WithPriority

// submitAll queues one job per priority, labelled by its index and
// priority, and returns the labels in the order they must run: by priority,
// highest first, and in submission order among equals.
func submitAll(t *testing.T, p crew.Pool[string], log *prioLog, prios []int) (want []string) {
	t.Helper()
	type item struct {
		label string
		prio  int
	}
	var items []item
	for i, pr := range prios {
		label := fmt.Sprintf("%d:%d", i, pr)
		if pr == noPrio {
			label, pr = fmt.Sprintf("%d:none", i), 0
		}
		if _, err := p.Submit(prioCtx(prios[i]), log.job(label)); err != nil {
			t.Fatalf("Submit(%s): %v", label, err)
		}
		items = append(items, item{label, pr})
	}
	slices.SortStableFunc(items, func(a, b item) int { return cmp.Compare(b.prio, a.prio) })
	for _, it := range items {
		want = append(want, it.label)
	}
	return want
}

// checkOrder holds p's only worker, queues one job per priority in prios,
// and checks that they run by priority, first in, first out among equals.
func checkOrder(t *testing.T, p crew.Pool[string], prios []int) {
	t.Helper()
	h := holdWorker(t, p)
	log := &prioLog{}
	want := submitAll(t, p, log, prios)
	close(h.release)
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := log.order(); !slices.Equal(got, want) {
		t.Errorf("ran %v, want %v", got, want)
	}
}

func TestPriorityOrder(t *testing.T) {
	tests := []struct {
		name string
		give []int // priorities, in submission order
		opts []crew.Option
	}{
		{name: "levels", give: []int{0, 5, -2, 5, 3, 0, 9, -2, 1}},
		{name: "strict", give: []int{0, 5, -2, 5, 3, 0, 9, -2, 1}, opts: []crew.Option{crew.WithAging(0)}},
		{name: "no priority is 0", give: []int{-1, noPrio, 1, 0, noPrio, -1}},
		// With aging, priorities beyond ±2^62ns/step rank alike (first in,
		// first out), so each pair of extremes comes in its own order.
		{name: "extremes", give: []int{0, math.MinInt + 1, math.MaxInt, -1, math.MaxInt - 1, math.MinInt, 1}},
		{name: "extremes strict", give: []int{0, math.MinInt + 1, math.MaxInt, -1, math.MaxInt - 1, math.MinInt, 1}, opts: []crew.Option{crew.WithAging(0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { // time stands still: no aging between Submits
				checkOrder(t, crew.NewPriorityPool[string](1, tt.opts...), tt.give)
			})
		})
	}
}

func TestPriorityFIFOAmongEquals(t *testing.T) {
	for _, aging := range []time.Duration{crew.DefaultAgingStep, 0} {
		t.Run(fmt.Sprintf("aging=%v", aging), func(t *testing.T) {
			p := crew.NewPriorityPool[string](1, crew.WithAging(aging))
			h := holdWorker(t, p)
			log := &prioLog{}
			var want []string
			for i := range 2000 {
				label := fmt.Sprint(i)
				want = append(want, label)
				if _, err := p.Submit(crew.WithPriority(context.Background(), 7), log.job(label)); err != nil {
					t.Fatal(err)
				}
			}
			close(h.release)
			if err := p.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := log.order(); !slices.Equal(got, want) {
				t.Errorf("equal priorities ran out of submission order; first 20: %v", got[:20])
			}
		})
	}
}

// TestPriorityAgingBound checks the bound WithAging documents, to the
// millisecond: under a constant stream of priority-q work that keeps one
// worker saturated, a job of priority p = 0 queued at t is overtaken
// exactly by the q-work queued before t + (q-p)*step, and by none after.
// In strict mode it waits for the whole stream.
func TestPriorityAgingBound(t *testing.T) {
	const q = 5 // the stream's priority; the waiting job has 0
	tests := []struct {
		name string
		opts []crew.Option
		step time.Duration // 0: strict, the job starves while the stream lasts
	}{
		{name: "step 10ms", opts: []crew.Option{crew.WithAging(10 * time.Millisecond)}, step: 10 * time.Millisecond},
		{name: "default step", step: crew.DefaultAgingStep},
		{name: "strict", opts: []crew.Option{crew.WithAging(0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := crew.NewPriorityPool[string](1, tt.opts...)
				start := time.Now()
				at := func() time.Duration { return time.Since(start) }
				bound := time.Duration(q) * tt.step
				streamFor := bound + 200*time.Millisecond
				if tt.step == 0 {
					streamFor = 200 * time.Millisecond
				}

				var mu sync.Mutex
				var lowStarted bool
				var before, after []time.Duration // queue times of q-jobs that started before/after the low job
				high := func(queued time.Duration) crew.Job[string] {
					return func(context.Context) (string, error) {
						mu.Lock()
						if lowStarted {
							after = append(after, queued)
						} else {
							before = append(before, queued)
						}
						mu.Unlock()
						time.Sleep(time.Millisecond) // the work
						return "high", nil
					}
				}
				var lowQueued, lowWait time.Duration
				low := func(context.Context) (string, error) {
					mu.Lock()
					lowStarted, lowWait = true, at()-lowQueued
					mu.Unlock()
					return "low", nil
				}
				// Two q-jobs a millisecond, each running for one: the worker
				// never idles and the backlog grows all along.
				hi := crew.WithPriority(context.Background(), q)
				for at() < streamFor {
					for range 2 {
						if _, err := p.Submit(hi, high(at())); err != nil {
							t.Fatal(err)
						}
					}
					if at() == 10*time.Millisecond {
						lowQueued = at()
						if _, err := p.Submit(context.Background(), low); err != nil {
							t.Fatal(err)
						}
					}
					time.Sleep(time.Millisecond)
				}
				if err := p.Close(context.Background()); err != nil {
					t.Fatal(err)
				}

				if tt.step == 0 {
					if len(after) != 0 {
						t.Errorf("strict: the low job ran before %d queued high jobs", len(after))
					}
					return
				}
				if len(after) == 0 {
					t.Fatalf("the low job starved: it ran after the whole stream, %v after it was queued", lowWait)
				}
				limit := lowQueued + bound
				if last := slices.Max(before); last != limit-time.Millisecond {
					t.Errorf("the last high job to overtake was queued at %v, want %v (just before t+(q-p)*step = %v)", last, limit-time.Millisecond, limit)
				}
				if first := slices.Min(after); first < limit {
					t.Errorf("a high job queued at %v ran after the low job, want none before %v", first, limit)
				}
				t.Logf("low job queued at %v waited %v; %d high jobs overtook it, bound (q-p)*step = %v", lowQueued, lowWait, len(before), bound)
			})
		})
	}
}

func TestPriorityCancelRemovesQueuedJob(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.NewPriorityPool[string](1)
		h := holdWorker(t, p)
		log := &prioLog{}
		ctx, cancel := context.WithCancel(crew.WithPriority(context.Background(), 2))
		doomed, err := p.Submit(ctx, log.job("doomed"))
		if err != nil {
			t.Fatal(err)
		}
		for i, pr := range []int{2, 2, 0} {
			if _, err := p.Submit(crew.WithPriority(context.Background(), pr), log.job(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		if got := p.QueueStats().Levels; !maps.Equal(got, map[int]int{2: 3, 0: 1}) {
			t.Fatalf("Levels before cancel: %v", got)
		}

		cancel()
		synctest.Wait() // the worker is still held: only the cancellation can resolve doomed
		if _, ok := doomed.Result(); !ok {
			t.Fatal("the cancelled job's Future did not resolve while the worker was busy")
		}
		if _, err := doomed.Wait(context.Background()); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled job: err %v, want context.Canceled", err)
		}
		if s := p.Stats(); s.Queued != 3 || s.Canceled != 1 {
			t.Errorf("Stats after cancel: Queued %d, Canceled %d; want 3, 1", s.Queued, s.Canceled)
		}
		if got := p.QueueStats().Levels; !maps.Equal(got, map[int]int{2: 2, 0: 1}) {
			t.Errorf("Levels after cancel: %v", got)
		}

		close(h.release)
		if err := p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got, want := log.order(), []string{"0", "1", "2"}; !slices.Equal(got, want) {
			t.Errorf("ran %v, want %v", got, want)
		}
	})
}

func TestPrioritySurvivesChain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := crew.NewPriorityPool[string](1)
		checkOrder(t, crew.Chain[string](base, passGuard{}, passGuard{}), []int{0, 3, -1, 3, 7, noPrio})
	})
}

func TestPriorityNestedSubmitOnFullQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.NewPriorityPool[string](1, crew.WithQueueSize(1))
		var nestedErr error
		outer, err := p.Submit(context.Background(), func(ctx context.Context) (string, error) {
			// The only worker runs this job: one nested job fits, the next
			// cannot, and waiting for room would wait for ourselves.
			if _, err := p.Submit(ctx, func(context.Context) (string, error) { return "inner", nil }); err != nil {
				return "", err
			}
			_, nestedErr = p.Submit(crew.WithPriority(ctx, 9), func(context.Context) (string, error) { return "inner", nil })
			return "outer", nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := outer.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		var rej *crew.RejectedError
		if !errors.Is(nestedErr, crew.ErrQueueFull) || !errors.As(nestedErr, &rej) {
			t.Errorf("nested Submit on a full queue: %v, want a *RejectedError matching ErrQueueFull", nestedErr)
		}
		if err := p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestPriorityQueueStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.NewPriorityPool[string](1)
		if got := p.QueueStats(); got.Queued != 0 || got.OldestWait != 0 || len(got.Levels) != 0 {
			t.Errorf("empty pool: %+v", got)
		}
		h := holdWorker(t, p)
		log := &prioLog{}
		for _, s := range []struct {
			prio  int
			after time.Duration
		}{{-1, 0}, {4, time.Second}, {4, 0}, {0, time.Second}} {
			time.Sleep(s.after)
			if _, err := p.Submit(crew.WithPriority(context.Background(), s.prio), log.job("")); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Second)
		want := crew.PriorityStats{Queued: 4, OldestWait: 3 * time.Second, OldestPriority: -1, Levels: map[int]int{-1: 1, 0: 1, 4: 2}}
		if got := p.QueueStats(); !equalPriorityStats(got, want) {
			t.Errorf("QueueStats: %+v, want %+v", got, want)
		}
		close(h.release)
		if err := p.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := p.QueueStats(); got.Queued != 0 || len(got.Levels) != 0 {
			t.Errorf("after Close: %+v", got)
		}
	})
}

func equalPriorityStats(a, b crew.PriorityStats) bool {
	return a.Queued == b.Queued && a.OldestWait == b.OldestWait && a.OldestPriority == b.OldestPriority && maps.Equal(a.Levels, b.Levels)
}

func TestPriorityMisuse(t *testing.T) {
	tests := []struct {
		name string
		give func()
	}{
		{"no workers", func() { crew.NewPriorityPool[int](0) }},
		{"negative aging", func() { crew.WithAging(-time.Nanosecond) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.HasPrefix(s, "crew: ") {
					t.Errorf("panic %v, want a message starting with %q", r, "crew: ")
				}
			}()
			tt.give()
		})
	}
}

// A Submit blocked on a full queue is not queued yet: its wait, for aging,
// must start when it is queued (PriorityPool.Submit's doc).
func TestPriorityBlockedSubmitEarnsNoAging(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.NewPriorityPool[string](1, crew.WithQueueSize(2), crew.WithAging(10*time.Millisecond))
		defer p.Close(context.Background())
		var log prioLog
		h := holdWorker(t, p)
		fillCtx, cancelFill := context.WithCancel(crew.WithPriority(context.Background(), 10))
		for range 2 {
			if _, err := p.Submit(fillCtx, log.job("fill")); err != nil {
				t.Fatal(err)
			}
		}
		futs := make(chan *crew.Future[string], 2)
		go func() { // blocks at t=0
			f, err := p.Submit(crew.WithPriority(context.Background(), 0), log.job("X-prio0"))
			if err != nil {
				t.Error(err)
			}
			futs <- f
		}()
		synctest.Wait()
		time.Sleep(time.Second) // X's Submit waits for room
		go func() {
			f, err := p.Submit(crew.WithPriority(context.Background(), 5), log.job("H-prio5"))
			if err != nil {
				t.Error(err)
			}
			futs <- f
		}()
		synctest.Wait()
		cancelFill() // room for both waiters, queued at the same instant
		synctest.Wait()
		close(h.release)
		for range 2 {
			(<-futs).Wait(context.Background())
		}
		got := log.order()
		want := []string{"H-prio5", "X-prio0"}
		if !slices.Equal(got, want) {
			t.Fatalf("order = %v, want %v (X queued when H was, 5 levels lower)", got, want)
		}
	})
}
