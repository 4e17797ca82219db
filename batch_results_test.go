package crew_test

// Every item gets its own result or error (guarantee 10): ItemErrors, a
// batch error or panic, a wrong result count; the batch runs under the
// Batcher's ctx, and no item outlives its batch.

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"testing/synctest"
	"time"
	"weak"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

func TestBatcherItemResults(t *testing.T) {
	errA, errB, errBulk := errors.New("a"), errors.New("b"), errors.New("bulk insert failed")
	tests := []struct {
		name     string
		give     crew.BatchFunc[int, string]
		want     []string
		wantErrs []error // per item; nil: success
		wantAs   bool    // errors are *crew.PanicError
		failed   uint64
	}{
		{
			name: "results by position",
			give: func(_ context.Context, items []int) ([]string, error) {
				return []string{"x", "y", "z"}, nil
			},
			want: []string{"x", "y", "z"}, wantErrs: []error{nil, nil, nil},
		},
		{
			name: "item errors",
			give: func(_ context.Context, items []int) ([]string, error) {
				return []string{"x", "", "z"}, crew.ItemErrors{nil, errA, nil}
			},
			want: []string{"x", "", "z"}, wantErrs: []error{nil, errA, nil}, failed: 1,
		},
		{
			name: "item errors wrapped",
			give: func(_ context.Context, items []int) ([]string, error) {
				return []string{"x", "", ""}, fmtWrap(crew.ItemErrors{nil, errA, errB})
			},
			want: []string{"x", "", ""}, wantErrs: []error{nil, errA, errB}, failed: 2,
		},
		{
			name: "all items failed, no results",
			give: func(_ context.Context, items []int) ([]string, error) {
				return nil, crew.ItemErrors{errA, errB, errA}
			},
			want: []string{"", "", ""}, wantErrs: []error{errA, errB, errA}, failed: 3,
		},
		{
			name: "batch error reaches every item",
			give: func(_ context.Context, items []int) ([]string, error) {
				return []string{"x", "y", "z"}, errBulk
			},
			want: []string{"", "", ""}, wantErrs: []error{errBulk, errBulk, errBulk}, failed: 3,
		},
		{
			name: "too few results",
			give: func(_ context.Context, items []int) ([]string, error) {
				return []string{"x"}, nil
			},
			want: []string{"", "", ""}, wantErrs: []error{crew.ErrResultCount, crew.ErrResultCount, crew.ErrResultCount}, failed: 3,
		},
		{
			name: "too many results",
			give: func(_ context.Context, items []int) ([]string, error) {
				return []string{"x", "y", "z", "w"}, nil
			},
			want: []string{"", "", ""}, wantErrs: []error{crew.ErrResultCount, crew.ErrResultCount, crew.ErrResultCount}, failed: 3,
		},
		{
			name: "item errors of the wrong length",
			give: func(_ context.Context, items []int) ([]string, error) {
				return []string{"x", "y", "z"}, crew.ItemErrors{errA}
			},
			want: []string{"", "", ""}, wantErrs: []error{crew.ErrResultCount, crew.ErrResultCount, crew.ErrResultCount}, failed: 3,
		},
		{
			name: "item errors with successes but no results",
			give: func(_ context.Context, items []int) ([]string, error) {
				return nil, crew.ItemErrors{nil, errA, nil}
			},
			want: []string{"", "", ""}, wantErrs: []error{crew.ErrResultCount, crew.ErrResultCount, crew.ErrResultCount}, failed: 3,
		},
		{
			name: "panic reaches every item",
			give: func(_ context.Context, items []int) ([]string, error) {
				panic(errBulk)
			},
			want: []string{"", "", ""}, wantErrs: []error{errBulk, errBulk, errBulk}, wantAs: true, failed: 3,
		},
		{
			name: "Goexit reaches every item",
			give: func(_ context.Context, items []int) ([]string, error) {
				runtime.Goexit()
				return nil, nil
			},
			want: []string{"", "", ""}, wantErrs: []error{nil, nil, nil}, wantAs: true, failed: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := crew.NewBatcher(tt.give, crew.WithBatchSize(3))
				var fs []*crew.Future[string]
				for i := range 3 {
					f, err := b.Submit(context.Background(), i)
					require.NoError(t, err)
					fs = append(fs, f)
				}
				for i, f := range fs {
					v, err := f.Wait(context.Background())
					assert.Equal(t, tt.want[i], v, "item %d", i)
					if tt.wantAs {
						var pe *crew.PanicError
						assert.ErrorAs(t, err, &pe, "item %d", i)
					}
					if tt.wantErrs[i] != nil {
						assert.ErrorIs(t, err, tt.wantErrs[i], "item %d", i)
					} else if !tt.wantAs {
						assert.NoError(t, err, "item %d", i)
					}
				}
				// The Batcher keeps working after any of these. A lone item
				// gets what give answers for one (mostly a failure: most
				// answer for three), and Flush says so.
				f, err := b.Submit(context.Background(), 9)
				require.NoError(t, err)
				flushErr := b.Flush(context.Background())
				r, ok := f.Result()
				require.True(t, ok, "Flush returned before the item was done")
				wantFailed := tt.failed
				if r.Err != nil {
					wantFailed++
					assert.ErrorIs(t, flushErr, r.Err)
				} else {
					assert.NoError(t, flushErr)
				}
				assert.NoError(t, b.Close(context.Background()), "nothing was left to flush")
				s := b.Stats()
				assert.Equal(t, uint64(4), s.Completed)
				assert.Equal(t, wantFailed, s.Failed)
			})
		})
	}
}

func TestItemErrorsIsAnError(t *testing.T) {
	errA := errors.New("a")
	ie := crew.ItemErrors{nil, errA, nil}
	var err error = ie
	assert.ErrorIs(t, err, errA)
	assert.Equal(t, "crew: 1 of 3 items failed; first: a", err.Error())
	assert.Equal(t, "crew: 0 of 2 items failed", crew.ItemErrors{nil, nil}.Error())
	var got crew.ItemErrors
	require.ErrorAs(t, fmtWrap(ie), &got)
	assert.Len(t, got, 3)
}

func TestBatcherRunsUnderItsOwnContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := &batchRecorder{gate: make(chan struct{})}
		b := crew.NewBatcher(r.fn, crew.WithBatchSize(2))
		type key struct{}
		ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "caller"))
		f1, err := b.Submit(ctx, 1)
		require.NoError(t, err)
		f2 := submitItems(t, b, 2)[0]
		synctest.Wait()
		cancel() // the batch was cut: this caller's cancel must not reach it
		synctest.Wait()
		require.Len(t, r.ctxs, 1)
		bctx := r.ctxs[0]
		assert.NoError(t, bctx.Err(), "a caller's cancel ended the batch")
		assert.Nil(t, bctx.Value(key{}), "the batch runs under the first caller's ctx")
		r.gate <- struct{}{}
		v, err := f1.Wait(context.Background())
		require.NoError(t, err, "an item whose caller gave up after the cut still gets its result")
		assert.Equal(t, 10, v)
		v, err = f2.Wait(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 20, v)
		closeBatcher(t, b)
	})
}

// The Batcher reuses its batches' slices and keeps its pending items in a
// ring it reuses: neither may keep an item's value reachable once the item's
// batch has run.
func TestBatcherKeepsNoItemAfterItsBatch(t *testing.T) {
	type blob [1 << 10]byte
	fn := func(_ context.Context, items []*blob) ([]int, error) { return make([]int, len(items)), nil }
	b := crew.NewBatcher(fn, crew.WithBatchSize(4), crew.WithBatchWait(time.Hour))
	var weaks []weak.Pointer[blob]
	submit := func(n int) { // in a function of its own, so no local keeps a blob
		for range n {
			p := new(blob)
			weaks = append(weaks, weak.Make(p))
			_, err := b.Submit(context.Background(), p)
			require.NoError(t, err)
		}
	}
	submit(4) // a full batch
	submit(2) // a partial one, cut by Flush, in the reused batch
	require.NoError(t, b.Flush(context.Background()))
	runtime.GC()
	for i, w := range weaks {
		assert.Nil(t, w.Value(), "item %d is still reachable", i)
	}
	closeBatcher(t, b)
}

// A BatchFunc may answer with its items slice itself, although the Batcher
// reuses that slice for a later batch: every item still gets its own value.
func TestBatcherFuncMayReturnItsItems(t *testing.T) {
	echo := func(_ context.Context, items []int) ([]int, error) { return items, nil }
	for _, conc := range []int{1, 3} {
		t.Run(fmt.Sprintf("concurrency %d", conc), func(t *testing.T) {
			b := crew.NewBatcher(echo, crew.WithBatchSize(7), crew.WithBatchConcurrency(conc))
			fs := make([]*crew.Future[int], 1000)
			for v := range fs {
				f, err := b.Submit(context.Background(), v)
				require.NoError(t, err)
				fs[v] = f
			}
			closeBatcher(t, b)
			for v, f := range fs {
				got, err := f.Wait(context.Background())
				require.NoError(t, err)
				require.Equal(t, v, got, "item %d got another item's value", v)
			}
		})
	}
}
