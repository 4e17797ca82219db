package crewprom

import (
	"math"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
)

// histogram counts durations into buckets for the Observer, and exports
// them as a Prometheus histogram at scrape time.
//
// It is not prometheus.Histogram because of what one observation costs on
// a worker's path: that one keeps count, sum and buckets exactly
// consistent for every reader, with a hot/cold swap that costs four atomic
// read-modify-writes per observation, all on cache lines every worker
// writes. Here an observation is two (an add to its bucket, a
// compare-and-swap to the sum), on a stripe of counters that a goroutine
// keeps to itself as long as no other goroutine hashes to it, so the
// compare-and-swap rarely retries. The count is the sum of the buckets, so
// buckets and count always agree; the sum may miss the observations in
// flight during a scrape, which are in the next one.
//
// The sum is float64 seconds, as Prometheus exports it: integer
// nanoseconds would be exact but wrap after 2^64 ns, 584 years of run
// time, which a pool of a thousand busy workers adds up in seven months.
type histogram struct {
	desc   *prometheus.Desc
	upper  []float64       // the bounds in seconds, as exported
	bounds []time.Duration // the same: d falls in bucket i if d <= bounds[i]
	// counts holds histStripes stripes of stride words each: a count per
	// bucket, one for +Inf, then the sum (float64 seconds, as bits), then
	// padding so that no two stripes' words share a cache line.
	counts []atomic.Uint64
	stride int
}

const (
	histStripeBits = 4
	histStripes    = 1 << histStripeBits
	cacheLine      = 64
	wordsPerLine   = cacheLine / 8
)

// newHistogram returns a histogram exported as desc, with the bucket
// bounds upper (in seconds, strictly increasing, no NaN; a last +Inf is
// implied and dropped).
func newHistogram(desc *prometheus.Desc, upper []float64) *histogram {
	if n := len(upper); n > 0 && math.IsInf(upper[n-1], 1) {
		upper = upper[:n-1]
	}
	h := &histogram{desc: desc, upper: upper, bounds: make([]time.Duration, len(upper))}
	for i, b := range upper {
		h.bounds[i] = boundOf(b)
	}
	used := len(upper) + 2 // the buckets, +Inf, the sum
	h.stride = (used+wordsPerLine-1)/wordsPerLine*wordsPerLine + wordsPerLine
	h.counts = make([]atomic.Uint64, histStripes*h.stride)
	return h
}

// observe counts d on stripe (see stripe).
func (h *histogram) observe(stripe int, d time.Duration) {
	d = max(d, 0) // a monotonic clock never goes back; guard the sum anyway
	i := 0
	for i < len(h.bounds) && d > h.bounds[i] { // a handful of bounds: a linear scan beats a binary search
		i++
	}
	s := h.counts[stripe*h.stride : stripe*h.stride+len(h.bounds)+2]
	s[i].Add(1)
	sum := &s[len(s)-1]
	for {
		old := sum.Load()
		if sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+d.Seconds())) {
			return
		}
	}
}

// metric reads every stripe and returns the histogram as a const metric.
func (h *histogram) metric() prometheus.Metric {
	n := len(h.bounds)
	perBucket := make([]uint64, n+1)
	var sum float64
	for st := range histStripes {
		s := h.counts[st*h.stride : st*h.stride+n+2]
		for i := range n + 1 {
			perBucket[i] += s[i].Load()
		}
		sum += math.Float64frombits(s[n+1].Load())
	}
	buckets := make(map[float64]uint64, n)
	var count uint64
	for i, c := range perBucket {
		count += c
		if i < n {
			buckets[h.upper[i]] = count
		}
	}
	return prometheus.MustNewConstHistogram(h.desc, count, sum, buckets)
}

// stripe returns the stripe the calling goroutine writes: a hash of the
// address of a variable on its stack. Goroutines have stacks of their own
// and a goroutine's stays put (until it grows), so a worker keeps writing
// the same stripe, whose cache line then stays in its core's cache, while
// other workers mostly write others.
func stripe() int {
	var here byte
	const golden = 0x9e3779b97f4a7c15 // 2^64 / the golden ratio: spreads the high bits
	h := (uint64(uintptr(unsafe.Pointer(&here))) >> 10) * golden
	return int(h >> (64 - histStripeBits))
}

// boundOf returns the largest duration d whose Seconds() is <= b, so that
// comparing durations with it puts d in the bucket that comparing
// d.Seconds() with b would; it saturates at the ends of time.Duration.
func boundOf(b float64) time.Duration {
	switch {
	case b >= float64(math.MaxInt64)/1e9:
		return math.MaxInt64
	case b < float64(math.MinInt64)/1e9:
		return math.MinInt64
	}
	d := time.Duration(math.Floor(b * 1e9))
	for d < math.MaxInt64 && (d+1).Seconds() <= b {
		d++
	}
	for d > math.MinInt64 && d.Seconds() > b {
		d--
	}
	return d
}
