// Package gcra is the token bucket behind crew's RateLimiter: the generic
// cell rate algorithm on whole nanoseconds, in int64 arithmetic that
// saturates instead of wrapping.
//
// A bucket refills one token every Interval nanoseconds and holds at most
// Burst. Its state is one word. For a Finite bucket the word is the
// theoretical arrival time: the instant (ns since the owner's epoch) at
// which the bucket is full again; it holds Burst - (word-now)/Interval
// tokens at now, and all Burst once now >= word. Taking a token at instant t
// needs word - Tau <= t, Tau being (Burst-1)*Interval, and moves the word to
// max(word, t) + Interval. A Zero bucket never refills, and its word is the
// count of tokens left. An Inf bucket has no limit and ignores its word.
//
// The bound: if every take at an instant t checks word - Tau <= t against
// the word as it stands and moves it to max(word, t) + Interval, then for
// any a <= c, at most Burst + (c-a)/Interval takes have instants in [a, c],
// whatever order the takes come in. (Of the takes in [a, c], the first one
// processed leaves the word at least a + Interval, each later one adds at
// least Interval, and the last one processed found word - Tau <= c.) Since
// Interval is 1e9/limit rounded up, that is at most Burst + limit*(c-a)
// seconds, exactly: no floating point is involved after New.
package gcra

import (
	"math"
	"math/big"
	"sync/atomic"
)

const (
	// Horizon caps Interval and Burst*Interval: a bucket never takes longer
	// than this to refill, so a word stays below now + Horizon and no sum
	// overflows while now is below 2^62 ns (146 years).
	Horizon int64 = 1 << 62

	// Never is the instant that never comes: no token will be there.
	Never int64 = math.MaxInt64

	// Frozen is the word of a Bucket that a newer one has replaced. Real
	// words are never negative.
	Frozen int64 = -1
)

// Kind tells the three shapes of bucket apart.
type Kind uint8

const (
	Finite Kind = iota // one token every Interval, at most Burst
	Zero               // no refill: the word counts the tokens left
	Inf                // no limit at all
)

// Params is a limit and a burst in integer form. It is a plain value.
type Params struct {
	Kind     Kind
	Interval int64 // ns per token, >= 1 (Finite only)
	Burst    int64 // tokens the bucket holds (Finite and Zero)
	Tau      int64 // (Burst-1)*Interval (Finite only)
}

// New returns the parameters for limit tokens a second and a bucket of
// burst. limit must be >= 0 and not NaN, and burst >= 1 unless limit is
// infinite; the caller checks.
//
// Interval is the smallest whole number of nanoseconds with
// Interval*limit >= 1e9, worked out exactly from limit's binary value, so
// the bucket never runs faster than limit, and runs at exactly limit when
// 1e9/limit is whole (1, 10, 1000, 10000 a second). A limit at or above
// math.MaxFloat64 (rate.Inf) or +Inf is Inf. A limit too small for one
// token in Horizon (below about 2.2e-10 a second), and 0, is Zero: it
// never refills, so a positive limit never becomes unlimited. Burst is
// capped at Horizon/Interval, the tokens limit makes in 146 years.
func New(limit float64, burst int) Params {
	if limit >= math.MaxFloat64 {
		return Params{Kind: Inf}
	}
	b := int64(max(burst, 0))
	iv, ok := interval(limit)
	if !ok {
		return Params{Kind: Zero, Burst: b}
	}
	b = min(max(b, 1), Horizon/iv)
	return Params{Kind: Finite, Interval: iv, Burst: b, Tau: (b - 1) * iv}
}

// interval returns ceil(1e9/limit) in exact arithmetic, at least 1, and
// false if limit is 0 or the interval would exceed Horizon.
func interval(limit float64) (int64, bool) {
	if !(limit > 0) {
		return 0, false
	}
	r := new(big.Rat).SetFloat64(limit) // exact: a float64 is a dyadic rational
	num := new(big.Int).Mul(big.NewInt(1e9), r.Denom())
	q, m := new(big.Int).QuoRem(num, r.Num(), new(big.Int))
	if m.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() || q.Int64() > Horizon {
		return 0, false
	}
	return max(q.Int64(), 1), true
}

// Full returns the word of a full bucket at now.
func (p Params) Full(now int64) int64 {
	if p.Kind == Zero {
		return p.Burst
	}
	return max(now, 0)
}

// Take returns the word after a token is taken at instant t, and false
// (and w) if no token is there at t.
func (p Params) Take(w, t int64) (int64, bool) {
	switch p.Kind {
	case Inf:
		return w, true
	case Zero:
		if w > 0 {
			return w - 1, true
		}
		return w, false
	}
	if w == Never || w-p.Tau > t {
		return w, false
	}
	return Add(max(w, t), p.Interval), true
}

// Due returns the earliest instant, not before now, at which the k-th
// token from now (k = 0: the next one) can be taken, if each before it is
// taken as soon as it is there; Never if it will not come.
func (p Params) Due(w, now, k int64) int64 {
	switch p.Kind {
	case Inf:
		return now
	case Zero:
		if k < w {
			return now
		}
		return Never
	}
	x := Add(max(w, now), Mul(max(k, 0), p.Interval))
	if x == Never {
		return Never
	}
	return max(now, x-p.Tau)
}

// Tokens returns the whole tokens that can be taken at now, one after
// another.
func (p Params) Tokens(w, now int64) int64 {
	switch p.Kind {
	case Inf:
		return math.MaxInt64
	case Zero:
		return max(w, 0)
	}
	if w <= now {
		return p.Burst
	}
	return max(p.Burst-ceilDiv(w-now, p.Interval), 0)
}

// Convert returns the word under to for a bucket whose word under from is
// w at now: the tokens it holds carry over, rounded down to what to can
// represent and capped at to.Burst. Leaving Inf, the bucket starts full.
func Convert(w, now int64, from, to Params) int64 {
	switch {
	case to.Kind == Inf:
		return 0
	case from.Kind == Inf:
		return to.Full(now)
	}
	// The deficit, from.Burst minus the tokens held, in tokens: exact as
	// num/den.
	var num, den *big.Int
	if from.Kind == Zero {
		num, den = big.NewInt(from.Burst-max(w, 0)), big.NewInt(1)
	} else {
		num, den = big.NewInt(max(w-now, 0)), big.NewInt(from.Interval)
	}
	// Under to, the deficit is to.Burst minus min(held, to.Burst).
	num.Add(num, new(big.Int).Mul(big.NewInt(to.Burst-from.Burst), den))
	if num.Sign() < 0 {
		num.SetInt64(0)
	}
	if to.Kind == Zero {
		// tokens = to.Burst - ceil(deficit)
		d := ceilBig(num, den)
		if !d.IsInt64() || d.Int64() >= to.Burst {
			return 0
		}
		return to.Burst - d.Int64()
	}
	// word = now + ceil(deficit * Interval)
	d := ceilBig(num.Mul(num, big.NewInt(to.Interval)), den)
	if !d.IsInt64() {
		return Never
	}
	return Add(max(now, 0), d.Int64())
}

func ceilBig(num, den *big.Int) *big.Int {
	q, m := new(big.Int).QuoRem(num, den, new(big.Int))
	if m.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return q
}

// Add is a+b for b >= 0, saturating at Never.
func Add(a, b int64) int64 {
	if a > Never-b {
		return Never
	}
	return a + b
}

// Mul is a*b for a, b >= 0, saturating at Never.
func Mul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > Never/b {
		return Never
	}
	return a * b
}

// ceilDiv is ceil(a/b) for a >= 0, b > 0.
func ceilDiv(a, b int64) int64 {
	q := a / b
	if q*b < a {
		q++
	}
	return q
}

// Bucket is a word under fixed Params that any number of goroutines
// update without a lock. Its owner replaces the whole Bucket to change the
// Params: Freeze first, so that no take can land on the old one after its
// word was read for conversion.
type Bucket struct {
	P Params
	w atomic.Int64
}

// NewBucket returns a bucket with params p and word w.
func NewBucket(p Params, w int64) *Bucket {
	b := &Bucket{P: p}
	b.w.Store(w)
	return b
}

// Load returns the word, or Frozen.
func (b *Bucket) Load() int64 { return b.w.Load() }

// Took is a take: the word before it and after it.
type Took struct{ Before, After int64 }

// TryTake takes a token at instant t if one is there, and returns the
// take, for GiveBack. frozen reports that b was replaced: the caller must
// look again at its owner's new bucket.
func (b *Bucket) TryTake(t int64) (took Took, ok, frozen bool) {
	for {
		w := b.w.Load()
		if w == Frozen {
			return Took{}, false, true
		}
		next, ok := b.P.Take(w, t)
		if !ok {
			return Took{}, false, false
		}
		if next == w || b.w.CompareAndSwap(w, next) { // Inf: nothing to move
			return Took{w, next}, true, false
		}
	}
}

// GiveBack undoes take, if no take since has stayed: the word is then
// exactly as take left it, and goes back to what it was before. It reports
// whether it did. Since a take moves the word forward and only GiveBack
// moves it back, the word equals take.After only while every take after
// it was given back, so the bucket is then exactly as if take had never
// happened, and every bound on the takes that stay holds.
func (b *Bucket) GiveBack(take Took) bool {
	if take.Before == take.After { // Inf: nothing was taken
		return false
	}
	return b.w.CompareAndSwap(take.After, take.Before)
}

// Freeze makes every later TryTake on b fail with frozen, and returns the
// word b held, for Convert. Only the owner, holding its own lock, calls it,
// once.
func (b *Bucket) Freeze() int64 { return b.w.Swap(Frozen) }
