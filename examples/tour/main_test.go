package main

import (
	"bytes"
	"flag"
	"slices"
	"strings"
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

// TestTourSmoke runs every phase at a twentieth of its length: each one
// reports, the summary has a row for each, and every line fits.
func TestTourSmoke(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(config{scale: 0.05}, &out))
	got := out.String()
	exampletest.AssertReadable(t, got)
	for i, p := range phases {
		assert.Contains(t, got, p.name+": "+p.about)
		assert.Contains(t, got, "\n"+p.name, "summary row of phase %d", i+1)
	}
	assert.Contains(t, got, "scale: ▁ 0 to █ 32 workers")
	assert.NotContains(t, got, "\r", "not a terminal: no line redrawn in place")
}

// TestTourLiveStatus: on a terminal the status line is redrawn in place and
// cleared when the phase ends.
func TestTourLiveStatus(t *testing.T) {
	var out bytes.Buffer
	tr := &tour{out: &out, scale: 0.1, live: true}
	phasePool(tr)
	got := out.String()
	exampletest.AssertReadable(t, got)
	assert.Contains(t, got, "\r\033[K  at ")
	assert.Regexp(t, "\r\x1b\\[K  \\d+ jobs: ", got, "the status is cleared before the figures")
	assert.Contains(t, got, "p50")
}

func TestTourUsage(t *testing.T) {
	var cfg config
	fs := flag.NewFlagSet("tour", flag.ContinueOnError)
	cfg.flags(fs)
	exampletest.AssertUsage(t, fs, "tour")

	require.NoError(t, fs.Parse([]string{"-quick", "-only", "pool,retry"}))
	assert.True(t, cfg.quick)
	todo, err := pick(cfg.only)
	require.NoError(t, err)
	require.Len(t, todo, 2)
	assert.Equal(t, "pool", todo[0].name)
	assert.Equal(t, "retry", todo[1].name)
}

func TestTourUnknownPhase(t *testing.T) {
	err := run(config{only: "pool,nosuch"}, &bytes.Buffer{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `no phase "nosuch"`)
}

func TestSparkline(t *testing.T) {
	for _, tt := range []struct {
		name string
		give []int
		top  int
		want string
	}{
		{"scale ends", []int{0, 16, 32}, 32, "▁▅█"},
		{"above top draws full", []int{64}, 32, "█"},
		{"peaks kept when shrunk", append(make([]int, 79), 8), 8, strings.Repeat("▁", 39) + "█"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := sparkline(tt.give, tt.top)
			assert.Equal(t, tt.want, strings.TrimRight(got, " "))
			assert.Equal(t, marks, len([]rune(got)), "always marks wide")
		})
	}
}

func TestRulerPlacesLabels(t *testing.T) {
	got := ruler([]label{{0, "ok"}, {time.Second, "down"}}, 4*time.Second, marks)
	assert.Equal(t, "ok        down", strings.TrimRight(got, " "))
}

func TestTransitions(t *testing.T) {
	for _, tt := range []struct {
		name string
		give []string
		want string
	}{
		{"none", nil, "closed"},
		{"one round", []string{"open", "half-open", "closed"}, "closed→open→half-open→closed"},
		{"failed probes folded", []string{"open", "half-open", "open", "half-open", "open",
			"half-open", "closed"}, "closed→open→(half-open→open)×2→half-open→closed"},
		{"flapping shortened", slices.Repeat([]string{"open", "half-open", "closed"}, 10),
			"closed→open→…→closed (30 changes)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, transitions(tt.give))
		})
	}
}
