package crew_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

var errFive = errors.New("multiple of five")

// FuzzBatcherCutting runs a Batcher under a program of submits, cancels,
// flushes and clock steps in a synctest bubble, and checks every batch
// against a model: never empty or oversized, each item in at most one batch,
// submission order kept with one slot, an item that left never in a batch,
// every Future resolved with its own answer, and the batch's start time
// exactly when size, age, Flush or Close say it is due.
//
// prog[0..3] pick the batch size (1-8), the wait (0-19ms), the concurrency
// (1-3) and how long the BatchFunc takes (0-3ms); each later byte is an op.
func FuzzBatcherCutting(f *testing.F) {
	f.Add([]byte{2, 10, 0, 0, 0, 0, 0, 83, 0, 4, 0, 13, 0, 0, 0, 5})
	f.Add([]byte{4, 5, 1, 2, 0, 1, 2, 0, 43, 0, 5, 7, 4, 0, 0, 0, 0, 0, 0, 251})
	f.Add([]byte{0, 0, 2, 1, 0, 0, 0, 0, 3, 0, 0, 45, 4, 7, 7, 0})
	f.Add([]byte{7, 19, 0, 3, 7, 7, 7, 7, 7, 7, 7, 7, 7, 155, 7, 7, 4, 13, 21})
	f.Fuzz(func(t *testing.T, prog []byte) {
		if len(prog) < 4 || len(prog) > 300 {
			return
		}
		synctest.Test(t, func(t *testing.T) { runBatchProgram(t, prog) })
	})
}

// TestBatcherCuttingRandomPrograms runs the fuzz model on random programs,
// so plain `go test` explores beyond the seed corpus.
func TestBatcherCuttingRandomPrograms(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	for range 200 {
		prog := make([]byte, 4+rng.IntN(60))
		for i := range prog {
			prog[i] = byte(rng.Uint32())
		}
		synctest.Test(t, func(t *testing.T) { runBatchProgram(t, prog) })
		require.False(t, t.Failed(), "program %v", prog)
	}
}

type fuzzSub struct {
	v       int
	op      int // index of the op that submitted it
	at      time.Time
	f       *crew.Future[int]
	cancel  context.CancelFunc
	stopped bool // cancel was called
}

type fuzzBatch struct {
	items []int
	at    time.Time
}

type fuzzMark struct {
	op int
	at time.Time
}

func runBatchProgram(t *testing.T, prog []byte) {
	size := int(prog[0]%8) + 1
	wait := time.Duration(prog[1]%20) * time.Millisecond
	conc := int(prog[2]%3) + 1
	took := time.Duration(prog[3]%4) * time.Millisecond
	var mu sync.Mutex
	var batches []fuzzBatch
	fn := func(_ context.Context, items []int) ([]int, error) {
		assert.True(t, len(items) >= 1 && len(items) <= size, "a batch of %d items, size %d", len(items), size)
		mu.Lock()
		batches = append(batches, fuzzBatch{items: slices.Clone(items), at: time.Now()})
		mu.Unlock()
		if took > 0 {
			time.Sleep(took)
		}
		outs := make([]int, len(items))
		ie := make(crew.ItemErrors, len(items))
		for i, v := range items {
			outs[i] = 2 * v
			if v%5 == 0 {
				ie[i] = errFive
			}
		}
		return outs, ie
	}
	b := crew.NewBatcher(fn, crew.WithBatchSize(size), crew.WithBatchWait(wait), crew.WithBatchConcurrency(conc))
	var subs []*fuzzSub
	var marks []fuzzMark // Flush and Close calls
	submit := func(op int, cancellable bool) {
		s := &fuzzSub{v: len(subs) + 1, op: op, at: time.Now()}
		ctx := context.Background()
		if cancellable {
			ctx, s.cancel = context.WithCancel(ctx)
		}
		var err error
		s.f, err = b.Submit(ctx, s.v)
		require.NoError(t, err)
		subs = append(subs, s)
	}
	for i, op := range prog[4:] {
		switch op % 8 {
		case 0, 1, 2:
			submit(i, true)
		case 3:
			time.Sleep(time.Duration(op/8) * time.Millisecond)
		case 4:
			marks = append(marks, fuzzMark{op: i, at: time.Now()})
			if err := b.Flush(context.Background()); err != nil {
				require.ErrorIs(t, err, errFive)
			}
		case 5:
			if len(subs) > 0 {
				s := subs[int(op/8)%len(subs)]
				if s.cancel != nil {
					s.cancel()
					s.stopped = true
				}
			}
		case 6:
			time.Sleep(time.Duration(op/8) * 100 * time.Microsecond)
		case 7:
			submit(i, false)
		}
		synctest.Wait()
	}
	marks = append(marks, fuzzMark{op: len(prog), at: time.Now()})
	if err := b.Close(context.Background()); err != nil {
		require.ErrorIs(t, err, errFive)
	}

	// Every item in at most one batch; with one slot, in submission order.
	in := map[int]bool{}
	var order []int
	for _, bt := range batches {
		for _, v := range bt.items {
			require.False(t, in[v], "item %d in two batches", v)
			in[v] = true
			order = append(order, v)
		}
	}
	if conc == 1 {
		require.True(t, slices.IsSorted(order), "batches out of order: %v", batches)
	}
	// Every Future resolved with its own answer.
	var completed uint64
	for _, s := range subs {
		r, ok := s.f.Result()
		require.True(t, ok, "item %d unresolved after Close", s.v)
		switch {
		case errors.Is(r.Err, context.Canceled):
			require.True(t, s.stopped, "item %d canceled without its ctx ending", s.v)
			require.False(t, in[s.v], "item %d left but reached fn", s.v)
		case !in[s.v]:
			assert.Failf(t, "an item never reached fn", "item %d: %v", s.v, r.Err)
		case s.v%5 == 0:
			completed++
			require.ErrorIs(t, r.Err, errFive)
		default:
			completed++
			require.NoError(t, r.Err)
			require.Equal(t, 2*s.v, r.Value)
		}
	}
	st := b.Stats()
	require.Equal(t, uint64(len(subs)), st.Submitted)
	require.Equal(t, completed, st.Completed)
	require.Equal(t, st.Submitted, st.Completed+st.Canceled)

	// Timing. An item due by Flush or Close: a mark after it, before the cut.
	byV := map[int]*fuzzSub{}
	for _, s := range subs {
		byV[s.v] = s
	}
	marked := func(s *fuzzSub, at time.Time) bool {
		for _, m := range marks {
			if m.op > s.op && !m.at.After(at) {
				return true
			}
		}
		return false
	}
	for _, bt := range batches {
		head, last := byV[bt.items[0]], byV[bt.items[len(bt.items)-1]]
		age := bt.at.Sub(head.at)
		full := len(bt.items) == size
		if !full && !marked(head, bt.at) {
			assert.GreaterOrEqual(t, age, wait, "batch %v cut early", bt.items)
		}
		if took == 0 { // a slot is always free: the cut is never late
			assert.LessOrEqual(t, age, wait, "batch %v cut late", bt.items)
			if full {
				assert.Equal(t, last.at, bt.at, "full batch %v not cut at once", bt.items)
			} else if !marked(head, bt.at) {
				assert.Equal(t, wait, age, "batch %v not cut at its head's deadline", bt.items)
			}
		}
	}
}

// TestBatcherHammer races Submits (some cancelled), Flushes and a Close that
// may give up, on real goroutines, and checks that every accepted item
// resolves once with its own answer and that the counters add up.
func TestBatcherHammer(t *testing.T) {
	errFn := errors.New("fn saw its ctx end")
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 1))
		size, conc := 1+rng.IntN(16), 1+rng.IntN(4)
		var mu sync.Mutex
		seen := map[int]int{}
		fn := func(ctx context.Context, items []int) ([]int, error) {
			assert.True(t, len(items) >= 1 && len(items) <= size, "a batch of %d items, size %d", len(items), size)
			mu.Lock()
			for _, v := range items {
				seen[v]++
			}
			mu.Unlock()
			switch items[0] % 7 {
			case 0:
				panic("seven")
			case 1: // a slow batch: Close may give up on it
				select {
				case <-ctx.Done():
					return nil, errFn
				case <-time.After(time.Duration(items[0]%5) * time.Millisecond):
				}
			}
			return items, nil
		}
		b := crew.NewBatcher(fn, crew.WithBatchSize(size), crew.WithBatchWait(time.Duration(rng.IntN(3))*time.Millisecond),
			crew.WithBatchConcurrency(conc), crew.WithQueueSize(rng.IntN(64)))
		const submitters, each = 8, 200
		var (
			wg       sync.WaitGroup
			accepted sync.Map // v -> *crew.Future[int]
			halfway  = make(chan struct{}, submitters)
		)
		for g := range submitters {
			wg.Go(func() {
				for i := range each {
					if i == each/2 {
						halfway <- struct{}{}
					}
					v := g*each + i + 1
					ctx, cancel := context.WithCancel(context.Background())
					if v%3 == 0 {
						cancel() // sometimes before Submit, mostly while pending
					}
					f, err := b.Submit(ctx, v)
					if v%3 == 2 {
						cancel()
					}
					if err == nil {
						accepted.Store(v, f)
					} else {
						assert.True(t, errors.Is(err, crew.ErrClosed) || errors.Is(err, context.Canceled), "Submit: %v", err)
					}
					if v%50 == 0 {
						_ = b.Flush(context.Background())
					}
					cancel()
				}
			})
		}
		for range submitters {
			<-halfway
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		closeErr := b.Close(ctx)
		cancel()
		wg.Wait()
		if closeErr != nil && !errors.Is(closeErr, context.DeadlineExceeded) && !errors.Is(closeErr, errFn) {
			var pe *crew.PanicError
			require.ErrorAs(t, closeErr, &pe)
		}
		n := uint64(0)
		accepted.Range(func(k, val any) bool {
			n++
			v, f := k.(int), val.(*crew.Future[int])
			r, ok := f.Result()
			require.True(t, ok, "item %d unresolved after Close", v)
			mu.Lock()
			times := seen[v]
			mu.Unlock()
			require.LessOrEqual(t, times, 1, "item %d ran twice", v)
			if r.Err == nil {
				require.Equal(t, 1, times)
				require.Equal(t, v, r.Value)
			}
			return true
		})
		s := b.Stats()
		require.Equal(t, n, s.Submitted)
		require.Equal(t, s.Submitted, s.Completed+s.Canceled)
		require.Equal(t, uint64(submitters*each), s.Submitted+s.Rejected)
		require.Zero(t, s.Workers+s.Busy+s.Queued)
	}
}
