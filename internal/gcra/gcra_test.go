package gcra

import (
	"math"
	"math/big"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name  string
		limit float64
		burst int
		want  Params
	}{
		{"whole ns per token", 10_000, 1, Params{Kind: Finite, Interval: 100_000, Burst: 1}},
		{"one a second, burst 5", 1, 5, Params{Kind: Finite, Interval: 1e9, Burst: 5, Tau: 4e9}},
		{"a third of a ns rounds up", 3, 2, Params{Kind: Finite, Interval: 333_333_334, Burst: 2, Tau: 333_333_334}},
		{"float noise below a whole ns", 1 / 0.0001, 1, Params{Kind: Finite, Interval: 100_000, Burst: 1}},
		{"below one a second", 0.5, 1, Params{Kind: Finite, Interval: 2e9, Burst: 1}},
		{"above 1e9 a second: one a ns", 1e10, 1 << 30, Params{Kind: Finite, Interval: 1, Burst: 1 << 30, Tau: 1<<30 - 1}},
		{"between 5e8 and 1e9: two ns", 7e8, 1, Params{Kind: Finite, Interval: 2, Burst: 1}},
		{"huge burst is capped", 1, math.MaxInt, Params{Kind: Finite, Interval: 1e9, Burst: Horizon / 1e9, Tau: (Horizon/1e9 - 1) * 1e9}},
		{"zero", 0, 3, Params{Kind: Zero, Burst: 3}},
		{"tiny positive limit never refills", 1e-300, 1, Params{Kind: Zero, Burst: 1}},
		{"smallest subnormal", math.SmallestNonzeroFloat64, 2, Params{Kind: Zero, Burst: 2}},
		{"rate.Inf", math.MaxFloat64, 0, Params{Kind: Inf}},
		{"+Inf", math.Inf(1), 0, Params{Kind: Inf}},
		{"largest finite below MaxFloat64", math.Nextafter(math.MaxFloat64, 0), 1, Params{Kind: Finite, Interval: 1, Burst: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, New(tt.limit, tt.burst))
		})
	}
}

// TestNewAtTheHorizon: an interval of exactly Horizon is kept, one above is
// Zero.
func TestNewAtTheHorizon(t *testing.T) {
	at := 1e9 / float64(Horizon) // a power of two over 1e9: exact
	assert.Equal(t, Params{Kind: Finite, Interval: Horizon, Burst: 1}, New(at, 5))
	assert.Equal(t, Zero, New(math.Nextafter(at, 0), 5).Kind)
}

func TestTakeAndDue(t *testing.T) {
	p := New(1, 2) // 1s a token, burst 2
	w := p.Full(0)
	require.Equal(t, int64(2), p.Tokens(w, 0))
	assert.Equal(t, int64(0), p.Due(w, 0, 0))
	assert.Equal(t, int64(0), p.Due(w, 0, 1))
	assert.Equal(t, int64(1e9), p.Due(w, 0, 2))
	w, ok := p.Take(w, 0)
	require.True(t, ok)
	w, ok = p.Take(w, 0)
	require.True(t, ok)
	_, ok = p.Take(w, 0)
	assert.False(t, ok, "burst spent")
	assert.Equal(t, int64(1e9), p.Due(w, 0, 0))
	_, ok = p.Take(w, 1e9-1)
	assert.False(t, ok, "a nanosecond early")
	w, ok = p.Take(w, 1e9)
	assert.True(t, ok)
	assert.Equal(t, int64(3e9), w)
	assert.Equal(t, int64(0), p.Tokens(w, 1e9))
	assert.Equal(t, int64(2), p.Tokens(w, 3e9))
}

func TestZeroAndInf(t *testing.T) {
	z := New(0, 2)
	w := z.Full(0)
	assert.Equal(t, int64(5), z.Due(w, 5, 1))
	assert.Equal(t, Never, z.Due(w, 5, 2))
	w, _ = z.Take(w, 0)
	w, _ = z.Take(w, 0)
	_, ok := z.Take(w, 1<<60)
	assert.False(t, ok)

	inf := New(math.Inf(1), 0)
	_, ok = inf.Take(0, 0)
	assert.True(t, ok)
	assert.Equal(t, int64(7), inf.Due(0, 7, 1<<40))
}

func TestConvert(t *testing.T) {
	one := New(1, 4)   // 1s a token
	ten := New(10, 4)  // 100ms a token
	z := New(0, 4)     // no refill
	small := New(1, 2) // 1s a token, burst 2
	// At 10s the bucket of one is 2.5 tokens short: 1.5 tokens held.
	w := int64(12_500_000_000)
	now := int64(10e9)
	require.Equal(t, int64(1), one.Tokens(w, now))

	w10 := Convert(w, now, one, ten)
	assert.Equal(t, now+250_000_000, w10, "2.5 tokens short at 100ms each")
	assert.Equal(t, int64(2), ten.Tokens(w10, now+100_000_000))

	assert.Equal(t, int64(1), Convert(w, now, one, z), "1.5 tokens held: 1 whole")
	assert.Equal(t, now+3e9, Convert(1, now, z, one), "one token held, three short")

	ws := Convert(w, now, one, small)
	assert.Equal(t, now+500_000_000, ws, "the tokens held carry over: 1.5 of 2")
	assert.Equal(t, now+4e9, Convert(now+2e9, now, small, one), "raising the burst adds no tokens: still none held")
	assert.Equal(t, now, Convert(now-5, now, one, small), "full stays full")

	assert.Equal(t, now, Convert(0, now, New(math.Inf(1), 0), one), "leaving Inf: full")
	assert.Equal(t, int64(0), Convert(w, now, one, New(math.Inf(1), 0)))
}

func TestSaturation(t *testing.T) {
	assert.Equal(t, Never, Add(Never-1, 5))
	assert.Equal(t, Never, Mul(1<<40, 1<<40))
	assert.Equal(t, int64(0), Mul(0, Never))
	p := New(1e-9, 1) // 31.7 years a token
	w := p.Full(0)
	w, ok := p.Take(w, 0)
	require.True(t, ok)
	assert.Equal(t, Never, p.Due(w, 0, math.MaxInt64))
	assert.Equal(t, p.Interval, p.Due(w, 0, 0))
	assert.InEpsilon(t, 1e18, float64(p.Interval), 1e-15)
	_, ok = p.Take(Never, Never)
	assert.False(t, ok, "a saturated word has no token")
}

func TestBucketFreeze(t *testing.T) {
	b := NewBucket(New(1, 1), 0)
	took, ok, frozen := b.TryTake(0)
	require.True(t, ok)
	require.False(t, frozen)
	assert.Equal(t, Took{0, 1e9}, took)
	_, ok, frozen = b.TryTake(0)
	require.False(t, ok)
	require.False(t, frozen)
	assert.Equal(t, int64(1e9), b.Freeze())
	_, ok, frozen = b.TryTake(5e9)
	assert.False(t, ok)
	assert.True(t, frozen)
	assert.False(t, b.GiveBack(took), "a frozen bucket took a token back")

	inf := NewBucket(New(math.Inf(1), 0), 0)
	took, ok, _ = inf.TryTake(0)
	assert.True(t, ok)
	assert.False(t, inf.GiveBack(took), "an unlimited bucket has nothing to take back")
	inf.Freeze()
	_, _, frozen = inf.TryTake(0)
	assert.True(t, frozen)
}

// TestBucketGiveBack: a take given back while the word is as it left it
// restores the bucket exactly; once a later take stays, it cannot, until
// that one is given back too.
func TestBucketGiveBack(t *testing.T) {
	for _, p := range []Params{New(1, 2), New(0, 2)} {
		b := NewBucket(p, p.Full(5e9))
		a, ok, _ := b.TryTake(5e9)
		require.True(t, ok)
		c, ok, _ := b.TryTake(5e9)
		require.True(t, ok)
		_, ok, _ = b.TryTake(5e9)
		require.False(t, ok, "%+v: a third token at once", p)
		assert.False(t, b.GiveBack(a), "%+v: given back under a later take", p)
		require.True(t, b.GiveBack(c), "%+v", p)
		require.True(t, b.GiveBack(a), "%+v", p)
		assert.Equal(t, p.Full(5e9), b.Load(), "%+v: not as before the takes", p)
		assert.False(t, b.GiveBack(a), "%+v: given back twice", p)
	}
}

// FuzzInterval checks that Interval is exactly the smallest whole number
// of nanoseconds with Interval*limit >= 1e9.
func FuzzInterval(f *testing.F) {
	for _, l := range []float64{1, 3, 10_000, 1 / 0.0001, 7e8, 1e10, 1e-9, 2.2e-10, 0.1, 333.3} {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, limit float64) {
		if math.IsNaN(limit) || limit < 0 {
			return
		}
		p := New(limit, 1)
		switch p.Kind {
		case Inf:
			if limit < math.MaxFloat64 {
				t.Fatalf("New(%v) is Inf", limit)
			}
			return
		case Zero:
			// 1e9/limit > Horizon: Horizon*limit < 1e9
			if limit != 0 && ratMul(Horizon, limit).Cmp(big.NewRat(1e9, 1)) >= 0 {
				t.Fatalf("New(%v) is Zero, but an interval of Horizon would do", limit)
			}
			return
		}
		if p.Interval < 1 || p.Interval > Horizon {
			t.Fatalf("New(%v): interval %d out of range", limit, p.Interval)
		}
		if ratMul(p.Interval, limit).Cmp(big.NewRat(1e9, 1)) < 0 {
			t.Fatalf("New(%v): interval %d runs faster than the limit", limit, p.Interval)
		}
		if p.Interval > 1 && ratMul(p.Interval-1, limit).Cmp(big.NewRat(1e9, 1)) >= 0 {
			t.Fatalf("New(%v): interval %d is not the smallest", limit, p.Interval)
		}
	})
}

func ratMul(n int64, f float64) *big.Rat {
	return new(big.Rat).Mul(new(big.Rat).SetInt64(n), new(big.Rat).SetFloat64(f))
}
