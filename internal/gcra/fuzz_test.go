package gcra

import (
	"math"
	"math/big"
	"slices"
	"testing"
)

// segment is a stretch of time under one Params, from start on.
type segment struct {
	start int64
	p     Params
}

// FuzzBucket drives a bucket with takes at the current instant, at stale
// instants (a caller that read the clock a while ago), at the instant Due
// names, and with changes of limit and burst between two fuzzed settings,
// as RateLimiter does. It then checks every window [a, c] between two
// takes: the takes in it number at most the largest burst in force during
// it plus the tokens the rates in force make over it, in exact arithmetic.
// It also checks that Due's instant is the first at which Take succeeds,
// and that Tokens counts the takes that succeed at once. Takes are given
// back as Bucket.GiveBack does (only while the word is as the take left
// it), and a take given back leaves the takes checked.
func FuzzBucket(f *testing.F) {
	f.Add(3.0, uint16(2), 10.0, uint16(1), []byte{1, 0, 1, 0, 1, 0, 3, 0, 4, 0, 1, 0, 3, 0, 2, 128, 3, 0})
	f.Add(10_000.0, uint16(1), 0.0, uint16(3), []byte{1, 0, 3, 0, 3, 0, 4, 0, 1, 0, 1, 0, 4, 0, 3, 0, 3, 0})
	f.Add(0.5, uint16(5), 1e10, uint16(100), []byte{1, 0, 1, 0, 0, 200, 2, 7, 4, 0, 1, 0, 0, 3, 1, 0, 4, 0, 3, 0})
	f.Add(1e-9, uint16(1), math.Inf(1), uint16(0), []byte{1, 0, 1, 0, 3, 0, 4, 0, 1, 0, 4, 0, 1, 0})
	f.Fuzz(func(t *testing.T, limit1 float64, burst1 uint16, limit2 float64, burst2 uint16, ops []byte) {
		valid := func(l float64, b uint16) bool {
			return !math.IsNaN(l) && l >= 0 && (b > 0 || l >= math.MaxFloat64)
		}
		if !valid(limit1, burst1) || !valid(limit2, burst2) || len(ops) > 400 {
			return
		}
		settings := []Params{New(limit1, int(burst1)), New(limit2, int(burst2))}
		cur := 0
		p := settings[cur]
		w := p.Full(0)
		segs := []segment{{0, p}}
		var now, changed int64
		var takes []int64
		type held struct {
			took Took
			at   int64 // its instant, in takes
		}
		var kept []held // takes under the current Params, to give back
		take := func(at int64) {
			next, ok := p.Take(w, at)
			if ok {
				kept = append(kept, held{Took{w, next}, at})
				w = next
				takes = append(takes, at)
			}
		}
		for i := 0; i+1 < len(ops); i += 2 {
			arg := int64(ops[i+1])
			switch ops[i] % 7 {
			case 0: // time passes: up to about 64 tokens' worth
				step := max(p.Interval/4, 1)
				now = min(Add(now, Mul(arg, step)), Horizon-1) // the clock's range
			case 1:
				take(now)
			case 2: // a take read the clock at an instant since the last change
				take(changed + (now-changed)/256*arg)
			case 3: // wait for the next token, as a waiting Start does
				due := p.Due(w, now, 0)
				if due == Never || due-now > 1<<40 {
					break
				}
				if due > now {
					if _, ok := p.Take(w, due-1); ok {
						t.Fatalf("a take at %d succeeded before Due %d", due-1, due)
					}
				}
				now = due
				before := len(takes)
				take(due)
				if len(takes) == before {
					t.Fatalf("no token at Due %d (word %d, %+v)", due, w, p)
				}
			case 4: // SetLimit or SetBurst
				cur = 1 - cur
				to := settings[cur]
				w = Convert(w, now, p, to)
				p = to
				kept = nil // the old bucket is frozen: nothing goes back to it
				changed = now
				segs = append(segs, segment{now, p})
			case 5: // Tokens says how many takes succeed at once
				n := p.Tokens(w, now)
				if n > 1000 {
					break
				}
				x := w
				for k := range n + 1 {
					next, ok := p.Take(x, now)
					if ok != (k < n) {
						t.Fatalf("Tokens %d, but take %d at once: %v", n, k+1, ok)
					}
					x = next
				}
			case 6: // a job refused after its take gives the token back
				if len(kept) == 0 {
					break
				}
				k := int(arg) % len(kept)
				h := kept[k]
				kept = slices.Delete(kept, k, k+1)
				if h.took.Before == h.took.After || w != h.took.After {
					break // Inf, or a take since stayed: the token is spent
				}
				w = h.took.Before
				takes = slices.Delete(takes, slices.Index(takes, h.at), slices.Index(takes, h.at)+1)
			}
		}
		checkWindows(t, takes, segs)
	})
}

// checkWindows checks the bound on takes (instants, in any order) under the
// segments' settings.
func checkWindows(t *testing.T, takes []int64, segs []segment) {
	t.Helper()
	slices.Sort(takes)
	for i := range takes {
		for j := i; j < len(takes); j++ {
			a, c := takes[i], takes[j]
			allowed, ok := allowance(a, c, segs)
			if !ok {
				continue // no limit in force for part of the window
			}
			if big.NewRat(int64(j-i+1), 1).Cmp(allowed) > 0 {
				t.Fatalf("%d takes in [%d, %d], %v allowed (%+v)", j-i+1, a, c, allowed.FloatString(3), segs)
			}
		}
	}
}

// allowance is the largest burst in force in [a, c] plus the tokens the
// rates in force make over it; false if an Inf setting was in force.
func allowance(a, c int64, segs []segment) (*big.Rat, bool) {
	var burst int64
	tokens := new(big.Rat)
	for k, s := range segs {
		end := int64(math.MaxInt64)
		if k+1 < len(segs) {
			end = segs[k+1].start
		}
		if s.start > c || end < a { // a setting is in force at both ends of its stretch
			continue
		}
		if s.p.Kind == Inf {
			return nil, false
		}
		burst = max(burst, s.p.Burst)
		if s.p.Kind == Finite {
			lo, hi := max(a, s.start), min(c, end)
			if hi > lo {
				tokens.Add(tokens, big.NewRat(hi-lo, s.p.Interval))
			}
		}
	}
	return tokens.Add(tokens, big.NewRat(burst, 1)), true
}
