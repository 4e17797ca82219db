package crew_test

// The simulation of issue 4: an adaptive pool with WithLimitControl in front
// of a model downstream whose latency grows once its concurrency passes a
// capacity C. Everything runs in a synctest bubble, so 100 s of fake time
// take a fraction of a second and the limit's path can be logged.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

const (
	simNoLoad  = 10 * time.Millisecond // the downstream's latency below capacity
	simMax     = 64                    // the pool's maxWorkers
	simClients = 2 * simMax            // closed-loop callers: always more than the limit
	simSample  = 100 * time.Millisecond
)

// downstream models a service with capacity C: a call made while n calls
// are inside takes noLoad*max(1, n/C), +-10% jitter (processor sharing
// over C slots). Its throughput is C/noLoad at any concurrency >= C.
type downstream struct {
	mu       sync.Mutex
	capacity int
	noLoad   time.Duration
	inside   int
	rng      *rand.Rand
	lat      []time.Duration // latencies of finished calls, since the last take
	calls    int
}

func newDownstream(capacity int) *downstream {
	return &downstream{capacity: capacity, noLoad: simNoLoad, rng: rand.New(rand.NewPCG(4, 8))}
}

func (d *downstream) set(capacity int, noLoad time.Duration) {
	d.mu.Lock()
	d.capacity, d.noLoad = capacity, noLoad
	d.mu.Unlock()
}

// background puts n calls of another client inside, each leaving after up
// to one latency at that load, as a restarted fleet's calls would.
func (d *downstream) background(n int) {
	d.mu.Lock()
	d.inside += n
	full := time.Duration(float64(d.noLoad) * max(1, float64(d.inside)/float64(d.capacity)))
	d.mu.Unlock()
	for i := range n {
		go func() {
			time.Sleep(full * time.Duration(i+1) / time.Duration(n))
			d.mu.Lock()
			d.inside--
			d.mu.Unlock()
		}()
	}
}

func (d *downstream) call(context.Context) (int, error) {
	d.mu.Lock()
	d.inside++
	load := max(1, float64(d.inside)/float64(d.capacity))
	lat := time.Duration(float64(d.noLoad) * load * (0.9 + 0.2*d.rng.Float64()))
	d.mu.Unlock()
	time.Sleep(lat)
	d.mu.Lock()
	d.inside--
	d.lat = append(d.lat, lat)
	d.calls++
	d.mu.Unlock()
	return 0, nil
}

// take returns the latencies and the call count since the last take.
func (d *downstream) take() ([]time.Duration, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	lat, n := d.lat, d.calls
	d.lat, d.calls = nil, 0
	return lat, n
}

// load runs simClients callers against p until stop is closed; the returned
// func waits for them.
func load(t *testing.T, p crew.Pool[int], d *downstream, stop <-chan struct{}) (wait func()) {
	var wg sync.WaitGroup
	for range simClients {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := crew.Do(context.Background(), p, d.call); !assert.NoError(t, err) {
					return // d.call never fails: the pool broke
				}
			}
		})
	}
	return wg.Wait
}

func p99(lat []time.Duration) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	slices.Sort(lat)
	return lat[len(lat)*99/100]
}

// fixedThroughput measures a fixed pool of n workers against capacity c:
// calls per second over 10 s, after a 1 s warm-up.
func fixedThroughput(t *testing.T, n, c int) float64 {
	var tput float64
	synctest.Test(t, func(t *testing.T) {
		d := newDownstream(c)
		p := crew.NewPool[int](n)
		stop := make(chan struct{})
		wait := load(t, p, d, stop)
		time.Sleep(time.Second)
		d.take()
		time.Sleep(10 * time.Second)
		_, calls := d.take()
		tput = float64(calls) / 10
		close(stop)
		wait()
		require.NoError(t, p.Close(context.Background()))
	})
	return tput
}

type simPhase struct {
	capacity   int
	noLoad     time.Duration // default simNoLoad
	background int           // calls of another client inside at the phase start
	length     time.Duration
	noP99      bool // do not check p99 (a phase that starts in a trap)
}

func (ph simPhase) noLoadLatency() time.Duration {
	if ph.noLoad == 0 {
		return simNoLoad
	}
	return ph.noLoad
}

type phaseResult struct {
	capacity   int
	settle     time.Duration // from the phase start until the limit stayed within 25% of C
	settled    bool
	lo, hi     int // the limit's range once settled
	throughput float64
	p99        time.Duration
}

// simulate runs the adaptive pool through the phases and logs the limit
// over time, one line per second: the range of the limit in that second.
func simulate(t *testing.T, cfg crew.LimitConfig, phases []simPhase) []phaseResult {
	var results []phaseResult
	synctest.Test(t, func(t *testing.T) {
		d := newDownstream(phases[0].capacity)
		d.background(phases[0].background)
		p := crew.NewAdaptivePool[int](0, simMax, crew.WithLimitControl(cfg))
		stop := make(chan struct{})
		wait := load(t, p, d, stop)
		start := time.Now()
		for i, ph := range phases {
			d.set(ph.capacity, ph.noLoadLatency())
			if i > 0 {
				d.background(ph.background)
			}
			d.take()
			band := func(l int) bool { return 4*l >= 3*ph.capacity && 4*l <= 5*ph.capacity }
			r := phaseResult{capacity: ph.capacity}
			var limits []int
			var line strings.Builder
			lo, hi := simMax, 0
			phaseStart := time.Now()
			for i := 1; time.Duration(i)*simSample <= ph.length; i++ {
				time.Sleep(simSample)
				l := p.Limit()
				limits = append(limits, l)
				lo, hi = min(lo, l), max(hi, l)
				if i%10 == 0 {
					fmt.Fprintf(&line, " %d-%d", lo, hi)
					lo, hi = simMax, 0
				}
				if i%100 == 0 {
					t.Logf("C=%-2d t=%3.0fs limit per second:%s", ph.capacity, time.Since(start).Seconds(), line.String())
					line.Reset()
				}
			}
			if line.Len() > 0 {
				t.Logf("C=%-2d t=%3.0fs limit per second:%s", ph.capacity, time.Since(start).Seconds(), line.String())
			}
			lat, calls := d.take()
			r.throughput = float64(calls) / time.Since(phaseStart).Seconds()
			r.p99 = p99(lat)
			// Settled: the first sample after which every sample is in band.
			i := len(limits)
			for i > 0 && band(limits[i-1]) {
				i--
			}
			r.settled = i < len(limits)
			r.settle = time.Duration(i) * simSample
			if r.settled {
				r.lo, r.hi = slices.Min(limits[i:]), slices.Max(limits[i:])
			}
			results = append(results, r)
		}
		close(stop)
		wait()
		require.NoError(t, p.Close(context.Background()))
	})
	return results
}

func checkPhases(t *testing.T, results []phaseResult, phases []simPhase) {
	t.Helper()
	for i, r := range results {
		noLoad := phases[i].noLoadLatency()
		t.Logf("phase %d C=%d: settled after %v in %d..%d, %.0f calls/s (capacity %.0f), p99 %v",
			i, r.capacity, r.settle, r.lo, r.hi, r.throughput, float64(r.capacity)/noLoad.Seconds(), r.p99)
		assert.True(t, r.settled && r.settle <= 30*time.Second && r.settle <= phases[i].length-5*time.Second,
			"phase %d C=%d: the limit did not settle within 25%% of C inside 30 s (settle %v)", i, r.capacity, r.settle)
		if !phases[i].noP99 {
			assert.LessOrEqual(t, r.p99, 2*noLoad, "phase %d C=%d: p99 latency over 2x the no-load latency", i, r.capacity)
		}
		capacity := float64(r.capacity) / noLoad.Seconds()
		assert.GreaterOrEqual(t, r.throughput, 0.9*capacity,
			"phase %d C=%d: throughput under 90%% of the downstream's capacity", i, r.capacity)
	}
}

func TestAdaptiveLimitSimulation(t *testing.T) {
	phases := []simPhase{
		// The limit starts at max, so a first burst gets every worker at
		// once (guarantee 9), then falls to C: latency is high while it
		// falls, and judged from the next phase on.
		{capacity: 8, length: 10 * time.Second, noP99: true},
		{capacity: 8, length: 30 * time.Second},
		{capacity: 16, length: 40 * time.Second}, // the downstream recovers
		{capacity: 4, length: 40 * time.Second},  // and degrades
	}
	results := simulate(t, crew.LimitConfig{}, phases)
	checkPhases(t, results, phases)

	// Throughput against the best fixed worker count, for C = 8.
	best := 0.0
	for _, n := range []int{4, 8, 16, simMax} {
		tput := fixedThroughput(t, n, 8)
		t.Logf("fixed %2d workers, C=8: %.0f calls/s", n, tput)
		best = max(best, tput)
	}
	got := results[1].throughput
	t.Logf("C=8: adaptive throughput %.0f calls/s = %.1f%% of the best fixed %.0f", got, 100*got/best, best)
	assert.GreaterOrEqual(t, got, 0.9*best, "C=8: adaptive throughput under 90%% of the best fixed")
}

// TestAdaptiveLimitRelearnsOverloadedBaseline pins the research trap: a pool
// that starts at max concurrency while a previous instance's calls still
// fill the downstream learns its baseline under overload (8x the no-load
// latency, and never lower while it keeps 64 calls inside). Without
// re-learning, that latency then looks normal and the limit stays at max.
func TestAdaptiveLimitRelearnsOverloadedBaseline(t *testing.T) {
	phases := []simPhase{
		{capacity: 8, background: simMax, length: 35 * time.Second, noP99: true},
		{capacity: 8, length: 10 * time.Second}, // and stays out of the trap
	}
	results := simulate(t, crew.LimitConfig{Initial: simMax}, phases)
	checkPhases(t, results, phases)
}

// TestAdaptiveLimitRelearnsSlowerDownstream: the downstream becomes twice as
// slow for good (same capacity). A baseline that could only fall would
// read that as overload and pin the limit at its floor.
func TestAdaptiveLimitRelearnsSlowerDownstream(t *testing.T) {
	phases := []simPhase{
		{capacity: 8, length: 10 * time.Second, noP99: true}, // falling from max
		{capacity: 8, noLoad: 2 * simNoLoad, length: 35 * time.Second, noP99: true},
		{capacity: 8, noLoad: 2 * simNoLoad, length: 10 * time.Second},
	}
	results := simulate(t, crew.LimitConfig{}, phases)
	checkPhases(t, results, phases)
}
