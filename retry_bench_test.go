package crew_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

// BenchmarkRetryFirstAttempt: Do on a pool, bare and wrapped in Retry, for
// jobs that succeed at once: what Retry adds to an attempt that needs no
// retry. Compare the two with benchstat over interleaved runs.
func BenchmarkRetryFirstAttempt(b *testing.B) {
	job := func(context.Context) (int, error) { return 1, nil }
	for _, k := range []struct {
		name string
		wrap func(crew.Pool[int]) crew.Pool[int]
	}{
		{"bare", func(p crew.Pool[int]) crew.Pool[int] { return p }},
		{"retry", func(p crew.Pool[int]) crew.Pool[int] { return crew.Retry(p, crew.RetryPolicy{}) }},
	} {
		b.Run(k.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			p := k.wrap(crew.NewPool[int](runtime.GOMAXPROCS(0)))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := crew.Do(ctx, p, job); !assert.NoError(b, err) {
						return
					}
				}
			})
			require.NoError(b, p.Close(ctx))
		})
	}
}
