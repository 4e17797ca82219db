package crewredis

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// testRedis is a miniredis server reached through in-memory pipes, so that
// it runs inside a testing/synctest bubble: Redis TIME is the bubble's fake
// clock. It can be killed (every connection cut, dials refused), hung
// (requests never answered) and slowed (a latency on every reply).
type testRedis struct {
	m *miniredis.Miniredis

	mu      sync.Mutex
	state   int // linkUp, linkDown, linkHung
	latency time.Duration
	conns   map[*testConn]struct{}
}

const (
	linkUp = iota
	linkDown
	linkHung
)

func newTestRedis(t *testing.T) *testRedis {
	t.Helper()
	m := miniredis.NewMiniRedis()
	t.Cleanup(m.Close)
	return &testRedis{m: m, conns: map[*testConn]struct{}{}}
}

// client returns a new client of its own, closed at the end of the test.
func (r *testRedis) client(t *testing.T) *redis.Client { return r.clientLatency(t, 0) }

// clientLatency returns a new client whose replies each come lat late.
func (r *testRedis) clientLatency(t *testing.T, lat time.Duration) *redis.Client {
	t.Helper()
	opt := ClientOptions("127.0.0.1:6379")
	opt.Dialer = func(context.Context, string, string) (net.Conn, error) { return r.dial(lat) }
	c := redis.NewClient(opt)
	t.Cleanup(func() { require.NoError(t, c.Close()) })
	return c
}

func (r *testRedis) dial(lat time.Duration) (net.Conn, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state != linkUp {
		return nil, errors.New("test: connection refused")
	}
	c, err := r.m.Dial()
	if err != nil {
		return nil, err
	}
	tc := &testConn{Conn: c, r: r, latency: lat}
	r.conns[tc] = struct{}{}
	return tc, nil
}

// kill cuts every connection and refuses new ones, like a server that died.
func (r *testRedis) kill() { r.set(linkDown) }

// hang leaves connections open but answers nothing, like a server that
// stopped responding; dials are refused.
func (r *testRedis) hang() { r.set(linkHung) }

// revive accepts connections again; the data survives.
func (r *testRedis) revive() { r.set(linkUp) }

func (r *testRedis) set(state int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state = state
	if state == linkDown {
		for c := range r.conns {
			_ = c.Conn.Close()
			delete(r.conns, c)
		}
	}
}

func (r *testRedis) link() (int, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state, r.latency
}

type testConn struct {
	net.Conn
	r       *testRedis
	latency time.Duration // this client's own, on top of the server's
}

// Write swallows a request while the server hangs: the client's read then
// waits until its deadline.
func (c *testConn) Write(b []byte) (int, error) {
	if state, _ := c.r.link(); state == linkHung {
		return len(b), nil
	}
	return c.Conn.Write(b)
}

// Read delays each reply by the latency.
func (c *testConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if _, lat := c.r.link(); lat+c.latency > 0 && n > 0 {
		time.Sleep(lat + c.latency)
	}
	return n, err
}

func (c *testConn) Close() error {
	c.r.mu.Lock()
	delete(c.r.conns, c)
	c.r.mu.Unlock()
	return c.Conn.Close()
}
