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

// TestBreakerSmoke runs the default scenario: the circuit opens in the
// outage and is closed at the end; the output fits.
func TestBreakerSmoke(t *testing.T) {
	var cfg config
	fs := flag.NewFlagSet("breaker", flag.ContinueOnError)
	cfg.flags(fs)
	require.NoError(t, fs.Parse(nil))
	var out bytes.Buffer
	require.NoError(t, run(cfg, &out))
	got := out.String()
	exampletest.AssertReadable(t, got)
	assert.Contains(t, got, "circuit closed -> open")
	assert.Regexp(t, `\d+ shed by the breaker`, got)
	assert.Contains(t, got, "circuit closed at the end")
}

func TestBreakerUsage(t *testing.T) {
	var cfg config
	fs := flag.NewFlagSet("breaker", flag.ContinueOnError)
	cfg.flags(fs)
	exampletest.AssertUsage(t, fs, "breaker")
	assert.Error(t, run(config{down: time.Second, up: 0, run: time.Second, reset: time.Second},
		&bytes.Buffer{}), "-up before -down")
}
