package window

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// event is one Add in a table test: at an offset from t0.
type event struct {
	at     time.Duration
	failed bool
}

func TestSlidingCounts(t *testing.T) {
	tests := []struct {
		name string
		span time.Duration
		give []event
		at   time.Duration // when Counts is read
		want Counts
	}{
		{name: "empty", span: 10 * time.Second, want: Counts{}},
		{name: "one success", span: 10 * time.Second, give: []event{{0, false}}, want: Counts{1, 0}},
		{name: "one failure", span: 10 * time.Second, give: []event{{0, true}}, want: Counts{1, 1}},
		{name: "all in the window", span: 10 * time.Second,
			give: []event{{0, true}, {time.Second, false}, {9 * time.Second, true}},
			at:   9 * time.Second, want: Counts{3, 2}},
		{name: "the oldest slice leaves at span", span: 10 * time.Second,
			give: []event{{0, true}, {time.Second, false}},
			at:   10 * time.Second, want: Counts{1, 0}},
		{name: "a slice counts until its end leaves", span: 10 * time.Second,
			give: []event{{999 * time.Millisecond, true}},
			at:   10*time.Second - time.Nanosecond, want: Counts{1, 1}},
		{name: "everything leaves after span", span: 10 * time.Second,
			give: []event{{0, true}, {5 * time.Second, true}},
			at:   16 * time.Second, want: Counts{}},
		{name: "a bucket reused by a later slice", span: 10 * time.Second,
			give: []event{{0, true}, {10 * time.Second, false}},
			at:   10 * time.Second, want: Counts{1, 0}},
		{name: "time before base counts in the first slice", span: 10 * time.Second,
			give: []event{{-time.Hour, true}}, want: Counts{1, 1}},
		{name: "time going back counts as the latest", span: 10 * time.Second,
			give: []event{{20 * time.Second, false}, {3 * time.Second, true}},
			at:   29 * time.Second, want: Counts{2, 1}},
		{name: "a span below Buckets ns is one ns per slice", span: 3,
			give: []event{{0, true}, {9, true}, {10, false}},
			at:   10, want: Counts{2, 1}},
		{name: "a span not a multiple of Buckets rounds up", span: 15,
			give: []event{{0, true}, {19, true}},
			at:   19, want: Counts{2, 2}}, // width 2: slices 0 and 9 both count
		{name: "a huge span", span: math.MaxInt64,
			give: []event{{0, true}, {time.Duration(math.MaxInt64 / 2), false}},
			at:   time.Duration(math.MaxInt64 / 2), want: Counts{2, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := New(tt.span, t0)
			for _, e := range tt.give {
				w.Add(t0.Add(e.at), e.failed)
			}
			assert.Equal(t, tt.want, w.Counts(t0.Add(tt.at)))
		})
	}
}

func TestSlidingAddReturnsCountsWithTheNewOutcome(t *testing.T) {
	w := New(10*time.Second, t0)
	assert.Equal(t, Counts{1, 1}, w.Add(t0, true))
	assert.Equal(t, Counts{2, 1}, w.Add(t0.Add(time.Second), false))
	assert.Equal(t, Counts{2, 1}, w.Add(t0.Add(10*time.Second), true), "the first slice left")
}

func TestSlidingReset(t *testing.T) {
	w := New(10*time.Second, t0)
	w.Add(t0, true)
	w.Add(t0.Add(5*time.Second), true)
	w.Reset()
	assert.Equal(t, Counts{}, w.Counts(t0.Add(5*time.Second)))
	assert.Equal(t, Counts{1, 0}, w.Add(t0.Add(6*time.Second), false))
}

func TestSlidingFarFuture(t *testing.T) {
	w := New(time.Nanosecond*Buckets, t0)
	far := t0.Add(math.MaxInt64)
	assert.Equal(t, Counts{1, 1}, w.Add(far, true))
	assert.Equal(t, Counts{2, 1}, w.Add(far.Add(time.Hour), false), "clamped to the last slice")
}

func TestNewPanicsOnABadSpan(t *testing.T) {
	for _, span := range []time.Duration{0, -1, math.MinInt64} {
		require.PanicsWithValue(t, "crew: window.New: the span must be positive", func() { New(span, t0) })
	}
}

// FuzzSliding drives a window with Add, Reset, Counts and the passing of
// time, and checks every count against a plain model: a list of every
// outcome with its slice, summed over the slices in the window.
func FuzzSliding(f *testing.F) {
	f.Add(uint16(10), []byte{0, 1, 2, 3, 10, 0, 1, 200, 3, 2, 4, 0})
	f.Add(uint16(1), []byte{0, 0, 1, 5, 2, 0, 1, 1, 3})
	f.Add(uint16(97), []byte{1, 1, 1, 2, 255, 0, 4, 3, 0, 2, 9, 3})
	f.Fuzz(func(t *testing.T, span16 uint16, ops []byte) {
		span := time.Duration(span16) + 1
		width := (span + Buckets - 1) / Buckets
		w := New(span, t0)
		type outcome struct {
			idx    int64
			failed bool
		}
		var model []outcome
		var now, last int64 // ns since t0; the latest slice seen
		slice := func() int64 {
			last = max(last, now/int64(width))
			return last
		}
		want := func(idx int64) Counts {
			var c Counts
			for _, o := range model {
				if o.idx > idx-Buckets && o.idx <= idx {
					c.Calls++
					if o.failed {
						c.Failures++
					}
				}
			}
			return c
		}
		for len(ops) >= 2 {
			op, arg := ops[0]%5, ops[1]
			ops = ops[2:]
			switch op {
			case 0, 1: // add a success or a failure
				idx := slice()
				model = append(model, outcome{idx, op == 1})
				got := w.Add(t0.Add(time.Duration(now)), op == 1)
				require.Equal(t, want(idx), got, "Add at %dns", now)
			case 2: // time passes
				now += int64(arg) * int64(width) / 4
			case 3: // time seems to go back (a late reader)
				now = max(0, now-int64(arg))
			case 4:
				if arg%4 == 0 {
					w.Reset()
					model = nil
					continue
				}
				idx := slice()
				require.Equal(t, want(idx), w.Counts(t0.Add(time.Duration(now))), "Counts at %dns", now)
			}
		}
	})
}
