package main

import (
	"bytes"
	"flag"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/crew-go/crew/examples/internal/exampletest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestAdaptiveSmoke runs short steps: a line per step, each part's
// sparkline with its one scale, and lines that fit.
func TestAdaptiveSmoke(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(config{step: 50 * time.Millisecond}, &out))
	got := out.String()
	exampletest.AssertReadable(t, got)
	assert.Regexp(t, `(?m)^  heavy 24 callers: workers from +\d+ to +\d+$`, got)
	assert.Regexp(t, `(?m)^  C=16 limit from +\d+, settling at +\d+; +\d+ calls/s`, got)
	assert.Contains(t, got, "scale: ▁ 0 to █ 24 workers")
	assert.Regexp(t, `(?m)^  limit +[▁-█]{30}  scale: ▁ 0 to █ \d+ \(the highest seen\)$`, got)
	assert.Contains(t, got, "  callers    2         24        0           time: 5ms a mark")
}

func TestSpark(t *testing.T) {
	assert.Equal(t, "▁▅█", spark([]int{0, 12, 24}, 24))
	assert.Equal(t, "█", spark([]int{30}, 24), "above the scale draws full")
}

func TestAdaptiveUsage(t *testing.T) {
	var cfg config
	fs := flag.NewFlagSet("adaptive", flag.ContinueOnError)
	cfg.flags(fs)
	exampletest.AssertUsage(t, fs, "adaptive")
	require.NoError(t, fs.Parse(nil))
	assert.Equal(t, time.Second, cfg.step)
	assert.Error(t, run(config{step: time.Millisecond}, &bytes.Buffer{}))
}
