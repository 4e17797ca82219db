package crew_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

// Close's result and what a closed pool says, over every pool kind
// (guarantees 2 and 16).

// TestConformanceCloseEndedCtxWithNothingLeft pins the fix for Close
// returning context.Canceled when an ended ctx found nothing to give up: a
// pool that has run jobs and is idle drains, so Close says nil, as it does
// for a pool that never ran one.
func TestConformanceCloseEndedCtxWithNothingLeft(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		synctest.Test(t, func(t *testing.T) {
			for _, ran := range []int{0, 1, 5} {
				p := k.new(2)
				for i := range ran {
					v, err := crew.Do(context.Background(), p, value(i))
					require.NoError(t, err)
					require.Equal(t, i, v)
				}
				synctest.Wait() // the workers are parked
				ended, cancel := context.WithCancel(context.Background())
				cancel()
				assert.NoError(t, p.Close(ended), "ran %d jobs", ran)
				assert.NoError(t, p.Close(context.Background()), "a later Close says the same")
				s := p.Stats()
				assert.Zero(t, s.Workers)
				assert.EqualValues(t, ran, s.Completed)
			}
		})
	})
}

// TestConformanceClosedSaysErrClosed pins guarantee 16: after Close, Submit
// returns ErrClosed whatever the guards in front would have said.
func TestConformanceClosedSaysErrClosed(t *testing.T) {
	forEachKind(t, func(t *testing.T, k poolKind) {
		base := k.new(1)
		require.NoError(t, base.Close(context.Background()))
		p := crew.Chain(base, refuseGuard{&crew.RejectedError{Guard: "refuse-all", Err: crew.ErrRateLimited}})
		_, err := p.Submit(context.Background(), value(0))
		assert.ErrorIs(t, err, crew.ErrClosed, "through a Chain whose guard refuses everything")
		_, err = base.Submit(context.Background(), value(0))
		assert.ErrorIs(t, err, crew.ErrClosed)

		// Closing the Chain itself closes its base.
		p = crew.Chain(k.new(1), refuseGuard{&crew.RejectedError{Guard: "refuse-all", Err: crew.ErrRateLimited}})
		require.NoError(t, p.Close(context.Background()))
		_, err = p.Submit(context.Background(), value(0))
		assert.ErrorIs(t, err, crew.ErrClosed)
	})
}
