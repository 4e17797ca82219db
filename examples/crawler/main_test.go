package main

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestCrawlerFinishesEveryURL crawls a small site through an outage and
// checks that every URL finished ok, that the summary says so, and that the
// output fits 100 columns. It runs in real time (an HTTP server on
// loopback) and checks outcomes only, never how long anything took.
func TestCrawlerFinishesEveryURL(t *testing.T) {
	var stderr bytes.Buffer
	cfg, err := parseFlags([]string{
		"-urls", "40", "-quota", "400", "-outage-at", "30ms", "-outage", "100ms", "-progress", "20ms",
	}, &stderr)
	require.NoError(t, err, stderr.String())

	var out bytes.Buffer
	c, err := run(context.Background(), cfg, &out)
	require.NoError(t, err)

	for i, u := range c.urls {
		assert.NoError(t, u.err, "URL %d", i)
		assert.GreaterOrEqual(t, u.requests, 1, "URL %d", i)
		assert.Equal(t, i%4 == 0, u.urgent, "URL %d", i)
	}
	status, _ := c.site.counts()
	assert.Equal(t, 40, status[200], "one 200 per URL")
	text := out.String()
	assert.Contains(t, text, "crawled 40 URLs in ")
	assert.Contains(t, text, ": 40 ok, 0 failed")
	assert.NotContains(t, text, "map[")
	for _, line := range strings.Split(text, "\n") {
		assert.LessOrEqual(t, len(line), 100, "line too long: %q", line)
	}
}

func TestFlags(t *testing.T) {
	var stderr bytes.Buffer
	_, err := parseFlags([]string{"-h"}, &stderr)
	require.ErrorIs(t, err, flag.ErrHelp)
	assert.Contains(t, stderr.String(), "-outage duration")
	for _, line := range strings.Split(stderr.String(), "\n") {
		assert.LessOrEqual(t, len(line), 100, "line too long: %q", line)
	}

	for _, args := range [][]string{
		{"-urls", "0"},
		{"-quota", "0"},
		{"-errors", "1"},
		{"-outage", "-1s"},
		{"-run-timeout", "0s"},
		{"extra"},
	} {
		stderr.Reset()
		_, err := parseFlags(args, &stderr)
		assert.Error(t, err, "%v", args)
		assert.Contains(t, stderr.String(), "usage:", "%v", args)
	}

	cfg, err := parseFlags(nil, &stderr)
	require.NoError(t, err)
	assert.Equal(t, 60, cfg.urls)
	assert.Equal(t, 50.0, cfg.quota)
}
