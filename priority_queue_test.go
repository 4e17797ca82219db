package crew

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestPriorityQueueRandom runs the fuzz target's check on random operation
// sequences, so that plain go test covers more than the seed corpus.
func TestPriorityQueueRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	steps := []int64{0, 1, int64(time.Millisecond), math.MaxInt64}
	for range 2000 {
		ops := make([]byte, r.IntN(400))
		for i := range ops {
			ops[i] = byte(r.UintN(256))
		}
		checkPrioQueue(t, steps[r.IntN(len(steps))], r.IntN(2) == 0, ops)
	}
}

// TestPriorityQueueForgetsEmptyLevels: a queue that sees ever new priority
// levels keeps only a bounded number of empty ones, and still orders right.
func TestPriorityQueueForgetsEmptyLevels(t *testing.T) {
	q := newPrioQueue[int](time.Millisecond, true)
	q.now = func() int64 { return 0 } // no aging between the pushes
	m := &prioModel{}
	for p := range 10_000 {
		a, b := m.newTask(p, 0), m.newTask(p+1, 0)
		q.push(a)
		q.push(b)
		if got := q.pop(); got != b {
			t.Fatalf("level %d: popped %s, want %s", p, m.describe(got), m.describe(b))
		}
		q.remove(a)
		if n := len(q.levels); n > 2*maxSpareLevels+2 {
			t.Fatalf("after %d levels the queue keeps %d of them", p+1, n)
		}
	}
	if q.len() != 0 || len(q.heads.s) != 0 || len(q.tails.s) != 0 {
		t.Fatalf("queue not empty: len %d, heads %d, tails %d", q.len(), len(q.heads.s), len(q.tails.s))
	}
}
