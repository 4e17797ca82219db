package crewredis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crew-go/crew"
	"github.com/redis/go-redis/v9"
)

// Breaker is a crew.Guard: a circuit breaker whose state every replica
// with the same name shares through Redis. A replica that trips it opens
// it for all; the half-open probes are limited cluster-wide; a success
// round closes it for all.
//
// Each replica decides locally, from its own copy of the state: while
// closed, Admit, Start and a successful Done take no lock, never call
// Redis and do not allocate, as crew.Breaker. Failures are counted
// locally (FailureThreshold in a row, or FailureRatio over Window, as
// crew.BreakerConfig documents). When they trip it, the replica opens at
// once and a background goroutine tells Redis with a compare-and-set on
// the shared generation; Redis announces every change on pub/sub, and the
// goroutine also polls (WithPollInterval) in case a message is lost. With
// WithQuorum(n, window) the circuit opens only when n replicas tripped
// within window; a replica that tripped alone keeps calling meanwhile.
//
// The shared state has a generation, raised by every change; a change is
// made only by a script that finds the generation its caller saw, so two
// replicas that trip together open the circuit once. After ResetTimeout
// (on Redis's clock) it is half-open: a replica with a job to probe asks
// Redis for a probe slot, HalfOpenMaxRequests per round over the whole
// cluster. That job was admitted provisionally: Start waits for the answer
// (at most the request timeout) and runs it as a probe or refuses it.
// HalfOpenMaxRequests successful probes close the circuit; any failure
// reopens it; ProbeTimeout bounds an undecided round. Results of calls
// from an older generation are ignored; context.Canceled and any
// *crew.RejectedError are neither failures nor successes; a *crew.PanicError
// is a failure.
//
// When Redis is down (a request failed or outlived the request timeout)
// the replica behaves as a local breaker: it trips, waits ResetTimeout and
// probes on its own, HalfOpenMaxRequests probes at a time. When Redis
// answers again the replica adopts the shared state, after telling Redis
// of a trip it made meanwhile.
//
// OnStateChange is called for every change of this replica's state,
// whether decided here or learnt from Redis, outside every lock, one call
// at a time and in the order of the changes: on the goroutine that made
// the change (a call to Admit, Start, Done, Abandon or State, or the
// background goroutine), or, when a call is being delivered already, by
// the goroutine delivering it. It may call the Breaker's methods.
//
// A Breaker is safe for concurrent use and may guard several pools. It
// starts two goroutines (one for requests, one for pub/sub), which Close
// stops.
type Breaker struct {
	client  redis.UniversalClient
	cfg     crew.BreakerConfig // defaults filled in; read-only
	bc      breakerConfig
	keys    []string // the state hash and the quorum votes
	channel string   // where Redis announces changes

	// Lock-free views, written under mu: cur is gen<<2 | state, fails the
	// consecutive failures while closed.
	cur   atomic.Uint64
	fails atomic.Int64

	mu  sync.Mutex
	st  localState // guarded by mu
	ops pendingOps // guarded by mu

	events eventQueue

	kick   chan struct{} // capacity 1: wakes the syncer
	notify chan struct{} // capacity 1: the listener heard a change
	stop   chan struct{}
	ctx    context.Context // cancelled by Close: ends a request in flight
	cancel context.CancelFunc
	psMu   sync.Mutex
	ps     *redis.PubSub // the listener's subscription; guarded by psMu
	wg     sync.WaitGroup
	once   sync.Once
}

type breakerConfig struct {
	requestTimeout time.Duration
	poll           time.Duration
	quorum         int
	quorumWindow   time.Duration
	member         string
}

// WithPollInterval sets how often a Breaker reads the shared state when no
// pub/sub message came (default 1s): the longest a replica lags behind a
// change whose message was lost. It panics if d is not positive.
func WithPollInterval(d time.Duration) BreakerOption {
	if d <= 0 {
		panic(fmt.Sprintf("crew: crewredis.WithPollInterval(%v): the interval must be > 0", d))
	}
	return breakerOptionFunc(func(c *breakerConfig) { c.poll = d })
}

// WithQuorum makes the circuit open only when n distinct replicas tripped
// it within window (a replica trips as a local breaker would); until then
// the replicas keep calling. With Redis down each replica trips on its
// own. It panics if n < 1 or window is not positive.
func WithQuorum(n int, window time.Duration) BreakerOption {
	if n < 1 || window <= 0 {
		panic(fmt.Sprintf("crew: crewredis.WithQuorum(%d, %v): n must be >= 1 and the window > 0", n, window))
	}
	return breakerOptionFunc(func(c *breakerConfig) { c.quorum, c.quorumWindow = n, window })
}

// WithReplicaID names this replica in quorum votes (default: random). Two
// Breakers with the same ID count as one replica.
func WithReplicaID(id string) BreakerOption {
	return breakerOptionFunc(func(c *breakerConfig) {
		if id != "" {
			c.member = id
		}
	})
}

// NewBreaker returns a Breaker on the shared circuit name, configured by
// cfg as crew.NewBreaker documents it (the same defaults; cfg.Name, if
// empty, becomes name), and starts its goroutines. Every replica sharing
// name must use the same ResetTimeout, HalfOpenMaxRequests and
// ProbeTimeout. The Redis keys are crew:breaker:{name} and
// crew:breaker:{name}:votes; changes are published on
// crew:breaker:{name}.
//
// NewBreaker panics if client is nil, name is empty, a count or duration
// in cfg is negative, or FailureRatio is not within [0, 1].
func NewBreaker(client redis.UniversalClient, name string, cfg crew.BreakerConfig, opts ...BreakerOption) *Breaker {
	switch {
	case client == nil:
		panic("crew: crewredis.NewBreaker: the Redis client is nil")
	case name == "":
		panic("crew: crewredis.NewBreaker: the name is empty")
	case cfg.FailureThreshold < 0, cfg.HalfOpenMaxRequests < 0, cfg.MinimumCalls < 0,
		cfg.ResetTimeout < 0, cfg.ProbeTimeout < 0, cfg.Window < 0, cfg.SlowCallThreshold < 0:
		panic(fmt.Sprintf("crew: crewredis.NewBreaker: counts and durations in the config must be >= 0: %+v", cfg))
	case !(cfg.FailureRatio >= 0 && cfg.FailureRatio <= 1):
		panic(fmt.Sprintf("crew: crewredis.NewBreaker: FailureRatio (%v) must be within [0, 1]", cfg.FailureRatio))
	}
	cfg.Name = orDefault(cfg.Name, name)
	cfg.FailureThreshold = orDefault(cfg.FailureThreshold, 5)
	cfg.ResetTimeout = orDefault(cfg.ResetTimeout, 30*time.Second)
	cfg.HalfOpenMaxRequests = orDefault(cfg.HalfOpenMaxRequests, 1)
	cfg.ProbeTimeout = orDefault(cfg.ProbeTimeout, cfg.ResetTimeout)
	cfg.Window = orDefault(cfg.Window, 10*time.Second)
	cfg.MinimumCalls = orDefault(cfg.MinimumCalls, 10)
	b := &Breaker{
		client: client, cfg: cfg,
		bc:      breakerConfig{requestTimeout: time.Second, poll: time.Second, quorum: 1, member: randomID()},
		keys:    []string{"crew:breaker:{" + name + "}", "crew:breaker:{" + name + "}:votes"},
		channel: "crew:breaker:{" + name + "}",
		kick:    make(chan struct{}, 1), notify: make(chan struct{}, 1), stop: make(chan struct{}),
	}
	for _, o := range opts {
		if o != nil {
			o.applyBreaker(&b.bc)
		}
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	b.st = localState{gen: 1, rgen: -1, win: newRatioWindow(cfg.Window)}
	b.cur.Store(1 << 2)
	b.ops.sync = true
	b.wg.Add(2)
	go b.syncLoop()
	go b.listen()
	return b
}

// Close stops the Breaker's goroutines, waiting for a Redis request in
// flight (see RateLimiter.Close). The Breaker keeps deciding locally
// afterwards, as a local breaker. Close is idempotent, safe from any
// goroutine, and returns nil. It does not close the Redis client.
func (b *Breaker) Close() error {
	b.once.Do(func() {
		b.psMu.Lock()
		close(b.stop)
		b.cancel()
		if b.ps != nil {
			_ = b.ps.Close() // ends the listener's wait for a message
		}
		b.psMu.Unlock()
	})
	b.wg.Wait()
	return nil
}

// State returns this replica's view of the circuit's state now.
func (b *Breaker) State() crew.CircuitState {
	if s := crew.CircuitState(b.cur.Load() & 3); s == crew.StateClosed {
		return s
	}
	b.mu.Lock()
	b.advanceLocked(time.Now())
	s := b.st.state
	b.mu.Unlock()
	b.events.deliver(b.cfg.OnStateChange)
	return s
}

// BreakerStats are a Breaker's counts and its view of the state.
type BreakerStats struct {
	State          crew.CircuitState // this replica's view
	Requests       uint64            // scripts run on Redis
	Failures       uint64            // of Requests: failed or timed out
	Down           bool              // Redis is taken for down: the breaker decides alone
	CallbackPanics uint64            // OnStateChange calls that panicked (recovered)
}

// Stats returns the Breaker's counts.
func (b *Breaker) Stats() BreakerStats {
	b.mu.Lock()
	st := BreakerStats{State: b.st.state, Requests: b.st.requests, Failures: b.st.failures, Down: b.st.down}
	b.mu.Unlock()
	b.events.mu.Lock()
	st.CallbackPanics = b.events.panics
	b.events.mu.Unlock()
	return st
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// classify decides what an outcome counts as, as crew.Breaker does.
func (b *Breaker) classify(err error, elapsed time.Duration) int {
	slow := b.cfg.SlowCallThreshold > 0 && elapsed > b.cfg.SlowCallThreshold
	switch {
	case err == nil && slow:
		return outcomeFailure
	case err == nil:
		return outcomeSuccess
	}
	if _, ok := errors.AsType[*crew.PanicError](err); ok {
		return outcomeFailure
	}
	if _, ok := errors.AsType[*crew.RejectedError](err); ok || errors.Is(err, context.Canceled) {
		return outcomeIgnored
	}
	if b.cfg.IsFailure == nil || b.cfg.IsFailure(err) || slow {
		return outcomeFailure
	}
	return outcomeSuccess
}

const (
	outcomeSuccess = iota
	outcomeFailure
	outcomeIgnored
)

func (b *Breaker) rejected(after time.Duration) error {
	return &crew.RejectedError{Guard: b.cfg.Name, RetryAfter: max(after, 0), Err: crew.ErrCircuitOpen}
}

// wake tells the syncer there is work. It never blocks.
func (b *Breaker) wake() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}
