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

// TestRateLimitSmoke runs a faster limit: every charge's start is shown,
// the urgent charge is refused at once, and the output fits.
func TestRateLimitSmoke(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(config{limit: 100, burst: 5, charges: 12}, &out))
	got := out.String()
	exampletest.AssertReadable(t, got)
	assert.Equal(t, 2, bytes.Count(out.Bytes(), []byte("started at (ms):")), "10 to a line")
	assert.Contains(t, got, "refused by ratelimit (crew: rate limited)")
	assert.Contains(t, got, "After SetLimit(1000)")
}

func TestTimeline(t *testing.T) {
	got := timeline([]time.Duration{0, 50 * time.Millisecond, 1234 * time.Millisecond})
	assert.Equal(t, "  started at (ms):    0   50 1234\n", got)
}

func TestRateLimitUsage(t *testing.T) {
	var cfg config
	fs := flag.NewFlagSet("ratelimit", flag.ContinueOnError)
	cfg.flags(fs)
	exampletest.AssertUsage(t, fs, "ratelimit")
	require.NoError(t, fs.Parse(nil))
	assert.Equal(t, config{limit: 20, burst: 5, charges: 15}, cfg)
	assert.Error(t, run(config{limit: 0, burst: 5, charges: 1}, &bytes.Buffer{}))
}
