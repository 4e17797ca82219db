package crew_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

// User callbacks run outside every lock, and a panic in one is contained
// and reported.

// TestIsOverloadRunsOutsideThePoolLock pins the fix for IsOverload being
// called with the engine's mutex held: calling the pool from it
// deadlocked, and a panic in it left the job unresolved and Close hanging.
func TestIsOverloadRunsOutsideThePoolLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var p *crew.AdaptivePool[int]
		boom := errors.New("boom")
		p = crew.NewAdaptivePool[int](0, 2, crew.WithLimitControl(crew.LimitConfig{
			IsOverload: func(err error) bool {
				_ = p.Stats() // deadlocked when called under the lock
				_ = p.Limit()
				if errors.Is(err, errPanicPlease) {
					panic("IsOverload bug")
				}
				return true
			},
		}))
		_, err := crew.Do(context.Background(), p, func(context.Context) (int, error) { return 0, boom })
		require.ErrorIs(t, err, boom)

		_, err = crew.Do(context.Background(), p, func(context.Context) (int, error) { return 0, errPanicPlease })
		var pe *crew.PanicError
		require.ErrorAs(t, err, &pe, "the callback's panic is the job's outcome")
		assert.Equal(t, "IsOverload bug", pe.Value)

		v, err := crew.Do(context.Background(), p, value(3))
		require.NoError(t, err, "the pool goes on")
		assert.Equal(t, 3, v)
		require.NoError(t, p.Close(context.Background()))
		s := p.Stats()
		assert.EqualValues(t, 3, s.Completed)
		assert.EqualValues(t, 2, s.Failed)
	})
}

var errPanicPlease = errors.New("panic, please")

func TestWithLimitControlRefusesNaN(t *testing.T) {
	for _, cfg := range []crew.LimitConfig{
		{Tolerance: math.NaN()},
		{Tolerance: math.Inf(1)},
		{MaxErrorRate: math.NaN()},
		{MaxErrorRate: 1.5},
		{Tolerance: -1},
		{Initial: -1},
	} {
		assert.Panics(t, func() { crew.WithLimitControl(cfg) }, "%+v", cfg)
	}
}
