package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/crew-go/crew/examples/internal/exampletest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestServerEndpoints starts the real server on a random loopback port and
// checks the routes and the metrics.
func TestServerEndpoints(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error)
	go func() { done <- run(ctx, "127.0.0.1:0", 0, &out) }()
	base := waitForAddr(t, &out)

	for _, tt := range []struct {
		path, tier, want string
	}{
		{"/search", "", "results\n"},
		{"/pay", "premium", "paid\n"},
		{"/pay", "", "paid\n"},
	} {
		req, err := http.NewRequest(http.MethodGet, base+tt.path, nil)
		require.NoError(t, err)
		req.Header.Set("X-Tier", tt.tier)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, tt.path)
		require.Equal(t, tt.want, string(body))
	}

	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	metrics := string(body)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/plain")
	assert.Contains(t, metrics, "# TYPE crew_pool_completed_jobs_total counter")
	assert.Contains(t, metrics, `crew_pool_completed_jobs_total{pool="search"} 1`)
	assert.Contains(t, metrics, `crew_pool_completed_jobs_total{pool="pay"} 2`)
	assert.Contains(t, metrics, `crew_pool_job_run_seconds_count{pool="pay"} 2`)
	assert.Contains(t, metrics, `crew_breaker_state{breaker="pay",state="closed"} 1`)
	parser := expfmt.NewTextParser(model.LegacyValidation)
	_, err = parser.TextToMetricFamilies(strings.NewReader(metrics))
	assert.NoError(t, err, "parses as the Prometheus text format")
	problems, err := promlint.New(strings.NewReader(metrics)).Lint()
	require.NoError(t, err)
	assert.Empty(t, problems, "promlint")

	cancel()
	require.NoError(t, <-done)
}

func TestLoadGenerator(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the load generator for a second")
	}
	var out syncBuffer
	require.NoError(t, run(context.Background(), "127.0.0.1:0", time.Second, &out))
	got := out.String()
	exampletest.AssertReadable(t, got)
	assert.Regexp(t, `(?m)^  0\.5s  search 200:\d+`, got, "a status line")
	assert.Regexp(t, `(?m)^  /search  200:\d+`, got, "the totals")
	assert.Regexp(t, `(?m)^  /pay     200:\d+`, got)
	assert.Regexp(t, `(?m)^  breaker  \d+ state changes, \S+ now$`, got)
}

func TestWebserverUsage(t *testing.T) {
	var cfg config
	fs := flag.NewFlagSet("webserver", flag.ContinueOnError)
	cfg.flags(fs)
	exampletest.AssertUsage(t, fs, "webserver")
	require.NoError(t, fs.Parse([]string{"-load", "2s"}))
	assert.Equal(t, config{addr: "127.0.0.1:8080", load: 2 * time.Second}, cfg)
}

// waitForAddr reads the server's first line to learn its address.
func waitForAddr(t *testing.T, out *syncBuffer) string {
	t.Helper()
	for {
		line := out.firstLine()
		if i := strings.Index(line, "http://"); i >= 0 {
			return strings.Fields(line[i:])[0]
		}
		out.wait()
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader, with a
// signal on each write.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{}
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if b.written != nil {
		close(b.written)
		b.written = nil
	}
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) firstLine() string {
	s := b.String()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return ""
}

// wait blocks until the next Write.
func (b *syncBuffer) wait() {
	b.mu.Lock()
	if b.written == nil {
		b.written = make(chan struct{})
	}
	c := b.written
	b.mu.Unlock()
	<-c
}
