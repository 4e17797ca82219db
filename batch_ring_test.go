package crew

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// ringModel checks r against want, the live seqs oldest first, and the
// bound on dead slots.
func ringModel(t *testing.T, r *pendingRing[int, int], want []uint64) {
	t.Helper()
	var got []uint64
	r.each(func(s *pendingSlot[int, int]) {
		if s.in != int(s.seq) {
			t.Fatalf("slot %d holds %d", s.seq, s.in)
		}
		got = append(got, s.seq)
	})
	if !slices.Equal(got, want) {
		t.Fatalf("ring holds %v, want %v", got, want)
	}
	if r.n != len(want) {
		t.Fatalf("n = %d, want %d", r.n, len(want))
	}
	if r.n > 0 && r.front().seq != want[0] {
		t.Fatalf("front %d, want %d", r.front().seq, want[0])
	}
	if r.used > 0 && (r.front().fut == nil || r.at(r.used-1).fut == nil) {
		t.Fatal("a dead slot at an end")
	}
}

// FuzzPendingRing runs random pushes, pops and leaves on a ring and on a
// slice, and compares them after every step.
func FuzzPendingRing(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 2, 0, 0, 2, 1, 1})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 0, 0, 0, 0, 0, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, prog []byte) { runRingProgram(t, prog) })
}

func TestPendingRingRandomPrograms(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for range 300 {
		prog := make([]byte, rng.IntN(400))
		for i := range prog {
			prog[i] = byte(rng.IntN(256))
		}
		runRingProgram(t, prog)
	}
}

func runRingProgram(t *testing.T, prog []byte) {
	var r pendingRing[int, int]
	var live []uint64
	seq := uint64(1)
	peak := 0
	for _, op := range prog {
		switch op % 4 {
		case 0, 3: // push
			r.push(new(Future[int]), int(seq), seq, 0)
			live = append(live, seq)
			seq++
		case 1: // cut up to op/4 % 8 of the oldest
			k := min(int(op/4)%8, len(live))
			var bt batch[int, int]
			r.cut(k, &bt)
			for i, v := range bt.ins {
				if uint64(v) != live[i] || bt.futs[i] == nil {
					t.Fatalf("cut %v, want %v", bt.ins, live[:k])
				}
			}
			if len(bt.ins) != k {
				t.Fatalf("cut %d, want %d", len(bt.ins), k)
			}
			live = live[k:]
		case 2: // an item leaves; op/4 picks which, or a seq no longer there
			if seq == 1 {
				continue
			}
			want := uint64(op/4)%(seq-1) + 1
			i := r.find(want)
			at := slices.Index(live, want)
			if (i < 0) != (at < 0) {
				t.Fatalf("find(%d) = %d, live %v", want, i, live)
			}
			if i >= 0 {
				if s := r.kill(i); s.seq != want {
					t.Fatalf("kill(%d) took %d", i, s.seq)
				}
				live = slices.Delete(live, at, at+1)
			}
		}
		peak = max(peak, len(live))
		ringModel(t, &r, live)
		if len(r.buf) > 2*max(16, peak) {
			t.Fatalf("ring of %d slots for at most %d live", len(r.buf), peak)
		}
	}
}
