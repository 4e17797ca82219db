package main

import (
	"bytes"
	"flag"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/crew-go/crew/examples/internal/exampletest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestComposeSmoke runs the default scenario: a row per 200ms, both
// guards shedding, and lines that fit.
func TestComposeSmoke(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(config{clients: 4, limit: 100}, &out))
	got := out.String()
	exampletest.AssertReadable(t, got)
	for _, row := range []string{"\n   0 ms ", "\n 600 ms ", "\n1200 ms "} {
		assert.Contains(t, got, row)
	}
	assert.Contains(t, got, "breaker closed -> open")
	assert.Regexp(t, `pool: \d+ submitted, \d+ completed \(\d+ failed\), \d+ refused at Submit`, got)
}

func TestComposeUsage(t *testing.T) {
	var cfg config
	fs := flag.NewFlagSet("compose", flag.ContinueOnError)
	cfg.flags(fs)
	exampletest.AssertUsage(t, fs, "compose")
	require.NoError(t, fs.Parse(nil))
	assert.Equal(t, config{clients: 4, limit: 100}, cfg)
	assert.Error(t, run(config{clients: 0, limit: 100}, &bytes.Buffer{}))
}
