package ring_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/crew-go/crew/internal/ring"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// FuzzRing runs random pushes, cuts and leaves on a ring and on a slice,
// and compares them after every step.
func FuzzRing(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 2, 0, 0, 2, 1, 1})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 0, 0, 0, 0, 0, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, prog []byte) { runProgram(t, prog) })
}

func TestRingRandomPrograms(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for range 300 {
		prog := make([]byte, rng.IntN(400))
		for i := range prog {
			prog[i] = byte(rng.IntN(256))
		}
		runProgram(t, prog)
	}
}

func runProgram(t *testing.T, prog []byte) {
	var r ring.Ring[uint64]
	var live []uint64
	seq := uint64(1)
	peak := 0
	for _, op := range prog {
		switch op % 4 {
		case 0, 3: // push
			*r.Push(seq) = seq
			live = append(live, seq)
			seq++
		case 1: // cut up to op/4 % 8 of the oldest
			k := min(int(op/4)%8, len(live))
			var cut []uint64
			r.Cut(k, func(v *uint64) { cut = append(cut, *v) })
			require.Equal(t, append([]uint64{}, live[:k]...), append([]uint64{}, cut...), "cut")
			live = live[k:]
		case 2: // an item leaves; op/4 picks which, or a seq no longer there
			if seq == 1 {
				continue
			}
			want := uint64(op/4)%(seq-1) + 1
			i := r.Find(want)
			at := slices.Index(live, want)
			require.Equal(t, at < 0, i < 0, "find(%d) = %d, live %v", want, i, live)
			if i >= 0 {
				require.Equal(t, want, r.Kill(i))
				live = slices.Delete(live, at, at+1)
			}
		}
		peak = max(peak, len(live))
		got := []uint64{}
		r.Each(func(s *ring.Slot[uint64]) {
			require.Equal(t, s.Seq, s.V)
			got = append(got, s.Seq)
		})
		require.Equal(t, append([]uint64{}, live...), got, "live items")
		require.Equal(t, len(live), r.Len())
		if len(live) > 0 {
			require.Equal(t, live[0], r.Front().Seq)
		}
		require.LessOrEqual(t, r.Cap(), 2*max(16, peak), "slots for at most %d live", peak)
	}
	r.Reset()
	require.Zero(t, r.Len())
}
