package crewprom

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHistogramAgreesWithClientGolang: the same durations, observed here
// and by prometheus.Histogram as d.Seconds(), land in the same buckets,
// the edges (a duration equal to a bound) included.
func TestHistogramAgreesWithClientGolang(t *testing.T) {
	for _, tt := range []struct {
		name   string
		bounds []float64
	}{
		{"default", defaultBuckets},
		{"odd", []float64{1e-9, 3e-7, 0.1 + 0.2, 1.0 / 3, 7, 1e6}},
		{"negative and +Inf", []float64{-1, 0, 0.5, math.Inf(1)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHistogram(prometheus.NewDesc("x_seconds", "x", nil, nil), tt.bounds)
			ref := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "x_seconds", Help: "x", Buckets: tt.bounds})
			r := rand.New(rand.NewPCG(1, 2))
			var ds []time.Duration
			for _, b := range tt.bounds {
				d := boundOf(b)
				ds = append(ds, max(d-1, 0), max(d, 0), max(d+1, 0))
			}
			for range 1000 {
				ds = append(ds, time.Duration(r.Int64N(int64(20*time.Second))))
			}
			for _, d := range ds {
				h.observe(r.IntN(histStripes), d)
				ref.Observe(d.Seconds())
			}
			got, want := write(t, h.metric()), write(t, ref)
			assert.Equal(t, want.GetSampleCount(), got.GetSampleCount())
			assert.InEpsilon(t, want.GetSampleSum(), got.GetSampleSum(), 1e-12)
			require.Len(t, got.GetBucket(), len(want.GetBucket()))
			for i, b := range want.GetBucket() {
				assert.Equal(t, b.GetUpperBound(), got.GetBucket()[i].GetUpperBound())
				assert.Equal(t, b.GetCumulativeCount(), got.GetBucket()[i].GetCumulativeCount(), "le=%g", b.GetUpperBound())
			}
		})
	}
}

// TestHistogramUnderConcurrency: observations from many goroutines at
// once are all counted, once each, while scrapes run beside them, and a
// scrape never shows a bucket above the count.
func TestHistogramUnderConcurrency(t *testing.T) {
	h := newHistogram(prometheus.NewDesc("x_seconds", "x", nil, nil), defaultBuckets)
	const goroutines, each = 8, 2000
	stop := make(chan struct{})
	scraped := make(chan struct{})
	go func() {
		defer close(scraped)
		for {
			select {
			case <-stop:
				return
			default:
			}
			m := write(t, h.metric())
			for _, b := range m.GetBucket() {
				if !assert.LessOrEqual(t, b.GetCumulativeCount(), m.GetSampleCount()) {
					return
				}
			}
		}
	}()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				h.observe(stripe(), time.Duration(g*each+i)*time.Microsecond)
			}
		})
	}
	wg.Wait()
	close(stop)
	<-scraped
	m := write(t, h.metric())
	const n = goroutines * each
	assert.Equal(t, uint64(n), m.GetSampleCount())
	assert.InDelta(t, float64(n*(n-1)/2)*1e-6, m.GetSampleSum(), 1e-6) // 0µs + 1µs + ... + (n-1)µs
}

// TestBoundOf: a duration is at most boundOf(b) exactly when its Seconds()
// is at most b, and the bound saturates.
func TestBoundOf(t *testing.T) {
	for _, b := range append([]float64{0, 1e-9, 1.5e-9, 0.1, 0.3, 1.0 / 3, 9.2e9, -0.25}, defaultBuckets...) {
		d := boundOf(b)
		assert.LessOrEqual(t, d.Seconds(), b, "b=%g", b)
		assert.Greater(t, (d + 1).Seconds(), b, "b=%g", b)
	}
	assert.Equal(t, time.Duration(math.MaxInt64), boundOf(1e10))
	assert.Equal(t, time.Duration(math.MaxInt64), boundOf(math.Inf(1)))
	assert.Equal(t, time.Duration(math.MinInt64), boundOf(math.Inf(-1)))
}

// FuzzBoundOf: boundOf agrees with Seconds() for any finite bound and any
// duration near it.
func FuzzBoundOf(f *testing.F) {
	for _, b := range defaultBuckets {
		f.Add(b, int64(0))
	}
	f.Add(1.0/3, int64(-1))
	f.Fuzz(func(t *testing.T, b float64, off int64) {
		if math.IsNaN(b) || math.IsInf(b, 0) || math.Abs(b) > 9e9 {
			t.Skip()
		}
		d := boundOf(b) + time.Duration(off%4)
		assert.Equal(t, d.Seconds() <= b, d <= boundOf(b), "b=%g d=%d", b, d)
	})
}

// write returns m's histogram as Prometheus's data model holds it.
func write(t *testing.T, m prometheus.Metric) *dto.Histogram {
	t.Helper()
	var out dto.Metric
	if c, ok := m.(prometheus.Histogram); ok {
		require.NoError(t, c.Write(&out))
	} else {
		require.NoError(t, m.Write(&out))
	}
	return out.GetHistogram()
}
