package limit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// settled returns a gradient past slow start at limit with a learned
// baseline of 10ms and no probe due.
func settled(cfg Config, limit int) *Gradient {
	g := New(cfg, 1, 64)
	g.limit, g.slowStart, g.base, g.windows = limit, false, 10*time.Millisecond, 0
	return g
}

// feed observes n jobs of latency d, overload errors or not, with busy jobs
// running, and returns the limit.
func feed(g *Gradient, n int, d time.Duration, overload bool, busy int) int {
	l := g.limit
	for range n {
		l = g.Observe(d, overload, busy)
	}
	return l
}

func TestGradientRules(t *testing.T) {
	ms := time.Millisecond
	for _, tt := range []struct {
		name string
		cfg  Config
		run  func(g *Gradient) int // feeds one window at limit 20 (40 jobs)
		want int
	}{
		{"at baseline and full: grow by one", Config{}, func(g *Gradient) int {
			return feed(g, 40, 10*ms, false, 20)
		}, 21},
		{"at baseline but not full: hold", Config{}, func(g *Gradient) int {
			return feed(g, 40, 10*ms, false, 9)
		}, 20},
		{"within tolerance: hold", Config{}, func(g *Gradient) int {
			return feed(g, 40, 11500*time.Microsecond, false, 20)
		}, 20},
		{"twice the baseline: fall to where latency would be 1.1x", Config{}, func(g *Gradient) int {
			return feed(g, 40, 20*ms, false, 20)
		}, 11},
		{"MaxLatency caps the band", Config{MaxLatency: 11 * ms}, func(g *Gradient) int {
			return feed(g, 40, 11500*time.Microsecond, false, 20)
		}, 17},
		{"errors over MaxErrorRate: fall by 0.8", Config{}, func(g *Gradient) int {
			feed(g, 5, 10*ms, true, 20)
			return feed(g, 35, 10*ms, false, 20)
		}, 16},
		{"errors within MaxErrorRate: grow", Config{MaxErrorRate: 0.2}, func(g *Gradient) int {
			feed(g, 5, 10*ms, true, 20)
			return feed(g, 35, 10*ms, false, 20)
		}, 21},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.run(settled(tt.cfg, 20)))
		})
	}
}

func TestGradientSlowStartDoubles(t *testing.T) {
	g := New(Config{Initial: 1}, 1, 64)
	g.windows = 0 // no early probe
	var path []int
	for range 4 {
		path = append(path, feed(g, max(windowMin, 2*g.limit), 10*time.Millisecond, false, g.limit))
	}
	assert.Equal(t, []int{2, 4, 8, 16}, path)
}

func TestGradientInitial(t *testing.T) {
	assert.Equal(t, 64, New(Config{}, 1, 64).Limit(), "default: the maximum")
	assert.Equal(t, 5, New(Config{Initial: 5}, 1, 64).Limit())
	assert.Equal(t, 2, New(Config{Initial: 1}, 2, 64).Limit(), "within the bounds")
	assert.Equal(t, 64, New(Config{Initial: 100}, 1, 64).Limit())
}

func TestGradientSaturatesAtMaxInt(t *testing.T) {
	const big = int(^uint(0) >> 1)
	g := New(Config{Initial: big / 2}, 1, big)
	g.base, g.windows = 10*time.Millisecond, 0
	g.limit = big/2 + 1
	g.endWindowFull(10 * time.Millisecond)
	assert.Equal(t, big, g.Limit(), "doubling saturates at the maximum, never wraps")
}
