package crew_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

// doAllocs returns the allocations of one Do on p, once p is warm.
func doAllocs(t *testing.T, p crew.Pool[int]) float64 {
	t.Helper()
	for range 100 {
		_, err := crew.Do(context.Background(), p, value(1))
		require.NoError(t, err)
	}
	return testing.AllocsPerRun(1000, func() { _, _ = crew.Do(context.Background(), p, value(1)) })
}

// TestWrappersAllocateNothingMore: a Chain of crew's guards and a Retry
// whose first attempt succeeds cost no allocation beyond the base pool's
// Submit and Wait (the Future, and its channel when Wait finds it
// pending).
func TestWrappersAllocateNothingMore(t *testing.T) {
	bare := crew.NewPool[int](1)
	defer bare.Close(context.Background())
	base := doAllocs(t, bare)
	for _, tt := range []struct {
		name string
		p    crew.Pool[int]
	}{
		{"Chain(breaker)", crew.Chain(crew.NewPool[int](1), crew.NewBreaker(crew.BreakerConfig{}))},
		{"Retry", crew.Retry(crew.NewPool[int](1), crew.RetryPolicy{})},
		{"Retry(Chain(breaker))", crew.Retry(crew.Chain(crew.NewPool[int](1), crew.NewBreaker(crew.BreakerConfig{})), crew.RetryPolicy{})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.LessOrEqual(t, doAllocs(t, tt.p), base)
			require.NoError(t, tt.p.Close(context.Background()))
		})
	}
}

func TestExecuteThroughAClosedBreakerAllocatesNothing(t *testing.T) {
	b := crew.NewBreaker(crew.BreakerConfig{})
	fn := func(context.Context) (int, error) { return 1, nil }
	allocs := testing.AllocsPerRun(1000, func() { _, _ = crew.Execute(context.Background(), b, fn) })
	assert.Zero(t, allocs)
}
