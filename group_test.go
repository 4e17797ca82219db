package crew_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

func TestGroupWaitsForAllInSubmissionOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.NewPool[int](4)
		g := crew.NewGroup(context.Background(), p)
		for i := range 20 {
			require.NoError(t, g.Submit(func(context.Context) (int, error) {
				time.Sleep(time.Duration(20-i) * time.Millisecond) // later jobs finish first
				return i, nil
			}))
		}
		results, err := g.Wait(context.Background())
		require.NoError(t, err)
		require.Len(t, results, 20)
		for i, r := range results {
			assert.Equal(t, crew.Result[int]{Value: i}, r)
		}
		require.NoError(t, p.Close(context.Background()))
	})
}

func TestGroupReportsTheFirstError(t *testing.T) {
	p := crew.NewPool[int](2)
	defer p.Close(context.Background())
	g := crew.NewGroup(context.Background(), p)
	errA, errB := errors.New("a"), errors.New("b")
	require.NoError(t, g.Submit(value(0)))
	require.NoError(t, g.Submit(func(context.Context) (int, error) { return 0, errA }))
	require.NoError(t, g.Submit(func(context.Context) (int, error) { return 0, errB }))
	results, err := g.Wait(context.Background())
	assert.ErrorIs(t, err, errA, "the earliest submitted that failed")
	assert.ErrorIs(t, results[2].Err, errB, "every job keeps its own result")
}

func TestGroupCancelOnErrorCancelsTheRest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.NewPool[int](1)
		g := crew.NewGroup(context.Background(), p, crew.WithCancelOnError())
		boom := errors.New("boom")
		var ran atomic.Int32
		go1 := make(chan struct{})
		require.NoError(t, g.Submit(func(context.Context) (int, error) { <-go1; ran.Add(1); return 0, boom }))
		for range 5 {
			require.NoError(t, g.Submit(func(ctx context.Context) (int, error) {
				ran.Add(1)
				return 1, nil
			}))
		}
		close(go1) // every job is queued behind the first
		results, err := g.Wait(context.Background())
		assert.ErrorIs(t, err, boom, "the error that cancelled the rest, not their ctx error")
		assert.EqualValues(t, 1, ran.Load(), "the queued jobs left without running")
		for _, r := range results[1:] {
			assert.ErrorIs(t, r.Err, context.Canceled)
		}
		require.NoError(t, p.Close(context.Background()))
	})
}

func TestGroupCancelOnErrorCountsPanics(t *testing.T) {
	p := crew.NewPool[int](1)
	defer p.Close(context.Background())
	g := crew.NewGroup(context.Background(), p, crew.WithCancelOnError())
	require.NoError(t, g.Submit(func(context.Context) (int, error) { panic("bug") }))
	_, err := g.Wait(context.Background())
	var pe *crew.PanicError
	assert.ErrorAs(t, err, &pe)
}

func TestGroupSubmitRefusedIsNotInTheGroup(t *testing.T) {
	p := crew.NewPool[int](1)
	require.NoError(t, p.Close(context.Background()))
	g := crew.NewGroup(context.Background(), p)
	assert.ErrorIs(t, g.Submit(value(1)), crew.ErrClosed)
	assert.Error(t, g.Submit(nil))
	results, err := g.Wait(context.Background())
	assert.NoError(t, err)
	assert.Empty(t, results)
}

func TestGroupWaitEndsWithItsCtx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.NewPool[int](1)
		g := crew.NewGroup(context.Background(), p)
		blk := newBlocker()
		require.NoError(t, g.Submit(blk.job))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := g.Wait(ctx)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		close(blk.release)
		results, err := g.Wait(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 1, results[0].Value)
		require.NoError(t, p.Close(context.Background()))
	})
}

func TestGroupBadInput(t *testing.T) {
	p := crew.NewPool[int](1)
	defer p.Close(context.Background())
	assert.Panics(t, func() { crew.NewGroup[int](nilCtx, p) })
	assert.Panics(t, func() { crew.NewGroup[int](context.Background(), nil) })
	_, err := crew.NewGroup(context.Background(), p).Wait(nilCtx)
	assert.Error(t, err)
}

func ExampleGroup() {
	pool := crew.NewPool[string](4)
	defer pool.Close(context.Background())
	g := crew.NewGroup(context.Background(), pool)
	for _, url := range []string{"/a", "/b", "/c"} {
		_ = g.Submit(func(context.Context) (string, error) { return "fetched " + url, nil })
	}
	results, err := g.Wait(context.Background())
	fmt.Println(err)
	for _, r := range results {
		fmt.Println(r.Value)
	}
	// Output:
	// <nil>
	// fetched /a
	// fetched /b
	// fetched /c
}
