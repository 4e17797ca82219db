package crew_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

type jobCtxKey struct{}

// mapCtx is a ctx type that == cannot compare (it panics): the engine must
// tell such ctxs apart without ==.
type mapCtx struct {
	context.Context
	m map[string]int
}

func (c mapCtx) Value(key any) any {
	if key == (jobCtxKey{}) {
		return c.m["id"]
	}
	return c.Context.Value(key)
}

// TestJobCtxReuseKeepsEachSubmittersValues: workers reuse the job ctxs they
// made for never-ending submitter ctxs. Jobs whose submitter ctxs are many
// (more than a worker keeps), of the same type, of a type == panics on, or
// cancellable, must each still see their own submitter's values.
func TestJobCtxReuseKeepsEachSubmittersValues(t *testing.T) {
	for _, workers := range []int{1, 3} {
		t.Run(fmt.Sprintf("%d workers", workers), func(t *testing.T) {
			p := crew.NewPool[int](workers)
			var ctxs []context.Context
			for i := range 20 {
				ctxs = append(ctxs, context.WithValue(context.Background(), jobCtxKey{}, i))
			}
			for i := range 20 {
				ctxs = append(ctxs, mapCtx{context.Background(), map[string]int{"id": 20 + i}})
			}
			cancellable, cancel := context.WithCancel(context.WithValue(context.Background(), jobCtxKey{}, 40))
			defer cancel()
			ctxs = append(ctxs, cancellable)
			job := func(ctx context.Context) (int, error) {
				v, _ := ctx.Value(jobCtxKey{}).(int)
				return v, nil
			}
			var futures []*crew.Future[int]
			var want []int
			for round := range 5 {
				for i := range ctxs {
					j := (i*7 + round) % len(ctxs) // the same ctxs again, in other orders
					f, err := p.Submit(ctxs[j], job)
					require.NoError(t, err)
					futures, want = append(futures, f), append(want, j)
				}
			}
			for i, f := range futures {
				v, err := f.Wait(context.Background())
				require.NoError(t, err)
				assert.Equal(t, want[i], v, "job %d saw another submitter's value", i)
			}
			require.NoError(t, p.Close(context.Background()))
		})
	}
}

// TestJobCtxReuseStillMarksNestedAndStops: a reused job ctx still carries
// the nested-Submit marker of its pool (a nested Submit on a full queue
// fails fast instead of waiting) and is still cancelled when Close gives up.
func TestJobCtxReuseStillMarksNestedAndStops(t *testing.T) {
	p := crew.NewPool[int](1, crew.WithQueueSize(0))
	ctx := context.WithValue(context.Background(), jobCtxKey{}, 1)
	nested := func(ctx context.Context) (int, error) {
		_, err := p.Submit(ctx, func(context.Context) (int, error) { return 0, nil })
		return 0, err
	}
	for range 3 { // the first makes the job ctx, the others reuse it
		_, err := crew.Do(ctx, p, nested)
		assert.ErrorIs(t, err, crew.ErrQueueFull)
	}
	started := make(chan struct{})
	f, err := p.Submit(ctx, func(ctx context.Context) (int, error) {
		close(started)
		<-ctx.Done()
		return 0, ctx.Err()
	})
	require.NoError(t, err)
	<-started
	closeCtx, cancel := context.WithCancel(context.Background())
	cancel() // give up at once
	assert.ErrorIs(t, p.Close(closeCtx), context.Canceled)
	_, err = f.Wait(context.Background())
	assert.ErrorIs(t, err, context.Canceled, "the running job's ctx was not cancelled")
}
