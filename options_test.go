package crew_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/crew-go/crew"
)

// TestOptionsThatDoNotApplyPanic pins the fix for options that compiled
// with every constructor and silently did nothing: NewPool(2,
// WithEvictLowest(), WithPriorityOrder()) ran plain FIFO. A misplaced
// option now panics at construction, naming itself and where it applies;
// WithAging and WithIdleTimeout stay ignored where they do not apply.
func TestOptionsThatDoNotApplyPanic(t *testing.T) {
	fn := func(_ context.Context, in []int) ([]int, error) { return in, nil }
	tests := []struct {
		name string
		give func()
		want string // "" means it must not panic
	}{
		{"NewPool WithEvictLowest", func() { crew.NewPool[int](1, crew.WithEvictLowest()) },
			"crew: NewPool: WithEvictLowest does not apply (it applies to NewPriorityPool, NewAdaptivePool)"},
		{"NewPool WithPriorityOrder", func() { crew.NewPool[int](1, crew.WithPriorityOrder()) },
			"crew: NewPool: WithPriorityOrder does not apply (it applies to NewAdaptivePool)"},
		{"NewPriorityPool WithOnScale", func() { crew.NewPriorityPool[int](1, crew.WithOnScale(func(int, int) {})) },
			"crew: NewPriorityPool: WithOnScale does not apply (it applies to NewAdaptivePool)"},
		{"NewPriorityPool WithLimitControl", func() { crew.NewPriorityPool[int](1, crew.WithLimitControl(crew.LimitConfig{})) },
			"crew: NewPriorityPool: WithLimitControl does not apply (it applies to NewAdaptivePool)"},
		{"NewBatcher WithEvictLowest", func() { crew.NewBatcher(fn, crew.WithEvictLowest()) },
			"crew: NewBatcher: WithEvictLowest does not apply (it applies to NewPriorityPool, NewAdaptivePool)"},
		{"NewAdaptivePool WithEvictLowest alone", func() { crew.NewAdaptivePool[int](0, 1, crew.WithEvictLowest()) },
			"crew: NewAdaptivePool: WithEvictLowest needs WithPriorityOrder"},
		{"NewPool WithAging is ignored", func() { crew.NewPool[int](1, crew.WithAging(time.Second)).Close(context.Background()) }, ""},
		{"NewPool WithIdleTimeout is ignored", func() { crew.NewPool[int](1, crew.WithIdleTimeout(time.Second)).Close(context.Background()) }, ""},
		{"NewBatcher WithAging is ignored", func() { crew.NewBatcher(fn, crew.WithAging(time.Second)).Close(context.Background()) }, ""},
		{"NewAdaptivePool WithAging without priority order", func() {
			crew.NewAdaptivePool[int](0, 1, crew.WithAging(time.Second)).Close(context.Background())
		}, ""},
		{"NewAdaptivePool with all of its own", func() {
			crew.NewAdaptivePool[int](0, 1, crew.WithPriorityOrder(), crew.WithEvictLowest(), crew.WithAging(0),
				crew.WithIdleTimeout(time.Second), crew.WithOnScale(func(int, int) {}),
				crew.WithLimitControl(crew.LimitConfig{}), crew.WithQueueSize(3), crew.WithNonBlocking()).Close(context.Background())
		}, ""},
		{"NewBatcher queue options", func() {
			crew.NewBatcher(fn, crew.WithQueueSize(3), crew.WithNonBlocking(), crew.WithBatchSize(2)).Close(context.Background())
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == "" {
				assert.NotPanics(t, tt.give)
			} else {
				assert.PanicsWithValue(t, tt.want, tt.give)
			}
		})
	}
}
