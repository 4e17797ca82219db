package crew_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

// resizable is a pool with a Resize(n).
type resizable interface {
	crew.Pool[int]
	Resize(n int)
}

func TestResizeGrowsAndShrinksUnderLoad(t *testing.T) {
	for _, k := range []struct {
		name string
		new  func(n int) resizable
	}{
		{"pool", func(n int) resizable { return crew.NewPool[int](n) }},
		{"priority", func(n int) resizable { return crew.NewPriorityPool[int](n) }},
	} {
		t.Run(k.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := k.new(2)
				blk := newBlocker()
				var futs []*crew.Future[int]
				for range 8 {
					f, err := p.Submit(context.Background(), func(ctx context.Context) (int, error) {
						<-blk.release
						return 1, nil
					})
					require.NoError(t, err)
					futs = append(futs, f)
				}
				synctest.Wait()
				assert.Equal(t, 2, p.Stats().Busy)

				p.Resize(6) // workers start at once for the queued jobs
				synctest.Wait()
				s := p.Stats()
				assert.Equal(t, 6, s.Busy)
				assert.Equal(t, 2, s.Queued)

				p.Resize(1) // no running job is cancelled
				synctest.Wait()
				assert.Equal(t, 6, p.Stats().Busy, "busy workers finish their jobs")
				close(blk.release)
				for _, f := range futs {
					v, err := f.Wait(context.Background())
					require.NoError(t, err)
					assert.Equal(t, 1, v)
				}
				synctest.Wait()
				assert.Equal(t, 1, p.Stats().Workers, "then only one stays")

				g := newBlocker()
				f1, err := p.Submit(context.Background(), g.job)
				require.NoError(t, err)
				_, err = p.Submit(context.Background(), value(2))
				require.NoError(t, err)
				<-g.started
				synctest.Wait()
				s = p.Stats()
				assert.Equal(t, 1, s.Busy, "one at a time")
				assert.Equal(t, 1, s.Queued)
				close(g.release)
				_, err = f1.Wait(context.Background())
				require.NoError(t, err)
				require.NoError(t, p.Close(context.Background()))
			})
		})
	}
}

func TestAdaptiveResizeMovesBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := crew.NewAdaptivePool[int](0, 2, crew.WithLimitControl(crew.LimitConfig{}))
		p.Resize(3, 10)
		synctest.Wait()
		assert.Equal(t, 3, p.Stats().Workers, "the new minimum starts at once")
		assert.Equal(t, 3, p.Limit(), "the controller's limit, clamped into the new bounds")
		p.Resize(1, 4)
		synctest.Wait()
		assert.LessOrEqual(t, p.Limit(), 4)
		require.NoError(t, p.Close(context.Background()))
	})
}

func TestResizeBadInput(t *testing.T) {
	p := crew.NewPool[int](1)
	defer p.Close(context.Background())
	assert.PanicsWithValue(t, "crew: WorkerPool.Resize(0): workers must be >= 1", func() { p.Resize(0) })
	assert.Panics(t, func() { p.Resize(-1) })
	pp := crew.NewPriorityPool[int](1)
	defer pp.Close(context.Background())
	assert.Panics(t, func() { pp.Resize(0) })
	ap := crew.NewAdaptivePool[int](0, 1)
	defer ap.Close(context.Background())
	assert.Panics(t, func() { ap.Resize(2, 1) })
	assert.Panics(t, func() { ap.Resize(-1, 1) })
	assert.Panics(t, func() { ap.Resize(0, 0) })
}
