package main

import (
	"bytes"
	"flag"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/crew-go/crew"
	"github.com/crew-go/crew/examples/internal/exampletest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestPrioritySmoke runs a short rush: a row per pool and tier, the
// queues of the priority pools in words, and lines that fit.
func TestPrioritySmoke(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(config{rush: 100 * time.Millisecond, aging: 20 * time.Millisecond}, &out))
	got := out.String()
	exampletest.AssertReadable(t, got)
	assert.Regexp(t, `(?m)^NewPool \(FIFO\) +premium `, got)
	assert.Regexp(t, `(?m)^priority, strict +premium `, got)
	assert.Regexp(t, `(?m)^priority, aging 20ms +premium `, got)
	assert.Equal(t, 3, bytes.Count(out.Bytes(), []byte("\n                       free ")))
	assert.Equal(t, 2, bytes.Count(out.Bytes(), []byte("queued as the rush ended: ")))
}

func TestLevels(t *testing.T) {
	for _, tt := range []struct {
		name string
		give crew.PriorityStats
		want string
	}{
		{"empty", crew.PriorityStats{}, "0"},
		{"both tiers", crew.PriorityStats{Queued: 399, Levels: map[int]int{0: 353, premium: 46}},
			"399 (premium 46, free 353)"},
		{"free only", crew.PriorityStats{Queued: 5, Levels: map[int]int{0: 5}}, "5 (free 5)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, levels(&tt.give))
		})
	}
}

func TestPriorityUsage(t *testing.T) {
	var cfg config
	fs := flag.NewFlagSet("priority", flag.ContinueOnError)
	cfg.flags(fs)
	exampletest.AssertUsage(t, fs, "priority")
	require.NoError(t, fs.Parse(nil))
	assert.Equal(t, 1500*time.Millisecond, cfg.rush)
	assert.Equal(t, crew.DefaultAgingStep, cfg.aging)
	assert.Error(t, run(config{rush: time.Second}, &bytes.Buffer{}), "-aging 0")
}
