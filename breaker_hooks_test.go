package crew_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

func TestBreakerTripAndReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, log := newLoggedBreaker(crew.BreakerConfig{ResetTimeout: time.Minute})
		b.Trip()
		time.Sleep(30 * time.Second)
		b.Trip() // again: open for a full ResetTimeout from now
		assertRefused(t, b.Execute(context.Background(), succeed), "breaker", time.Minute, 90*time.Second-1)
		b.Reset()
		assert.Equal(t, crew.StateClosed, b.State())
		require.NoError(t, b.Execute(context.Background(), succeed))
		b.Reset() // already closed: no change to report
		assert.Equal(t, []string{"closed->open (open)", "open->closed (closed)"}, log.get())
	})
}

// TestBreakerOnStateChangeMayReenter: the hook may call any method of the
// breaker, also one that changes the state again.
func TestBreakerOnStateChangeMayReenter(t *testing.T) {
	var b *crew.Breaker
	var seen []crew.CircuitState
	b = crew.NewBreaker(crew.BreakerConfig{FailureThreshold: 1, OnStateChange: func(_, to crew.CircuitState) {
		seen = append(seen, to)
		if to == crew.StateOpen {
			b.Reset() // a hook that closes right away
		}
	}})
	require.ErrorIs(t, b.Execute(context.Background(), fail), errBoom)
	assert.Equal(t, []crew.CircuitState{crew.StateOpen, crew.StateClosed}, seen)
	assert.Equal(t, crew.StateClosed, b.State())
}
