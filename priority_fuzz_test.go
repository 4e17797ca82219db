package crew

import (
	"context"
	"fmt"
	"math"
	"math/big"
	"slices"
	"testing"
	"time"
)

// FuzzPriorityQueue drives the priority queue with random pushes, pops,
// cancellations (remove), evictions and clock moves, in strict and aging
// mode, and checks every outcome against a reference model: a plain slice
// ranked by the rule of WithAging, computed with big integers.
func FuzzPriorityQueue(f *testing.F) {
	f.Add(int64(0), false, []byte{0, 3, 0, 1, 0, 2, 1, 1, 1})
	f.Add(int64(time.Millisecond), false, []byte{0, 0, 3, 200, 0, 9, 1, 2, 5, 1, 1})
	f.Add(int64(time.Millisecond), true, []byte{0, 0, 0, 7, 4, 9, 4, 1, 3, 90, 4, 0, 1, 1, 1})
	f.Add(int64(0), true, []byte{0, 1, 0, 2, 4, 3, 4, 0, 2, 0, 1, 1, 1})
	f.Add(int64(math.MaxInt64), true, []byte{0, 250, 0, 251, 0, 252, 0, 253, 4, 254, 1, 1, 1, 1})
	f.Add(int64(1), false, []byte{0, 250, 0, 251, 3, 255, 0, 252, 0, 253, 0, 254, 1, 1, 1, 1, 1})
	f.Fuzz(checkPrioQueue)
}

// checkPrioQueue runs ops on a queue and on the model, and fails at the
// first difference. Each op is a byte, some followed by an argument byte.
func checkPrioQueue(t *testing.T, step int64, evict bool, ops []byte) {
	step = max(step, 0)
	var now int64
	q := newPrioQueue[int](time.Duration(step), evict)
	q.now = func() int64 { return now }
	m := &prioModel{step: step}
	next := func() byte {
		if len(ops) == 0 {
			return 0
		}
		b := ops[0]
		ops = ops[1:]
		return b
	}
	for len(ops) > 0 {
		switch next() % 6 {
		case 0: // push
			f := m.newTask(fuzzPriority(next()), now)
			q.push(f)
			m.push(f, now)
		case 1: // pop
			got, want := q.pop(), m.pop()
			if got != want {
				t.Fatalf("pop: got %s, want %s", m.describe(got), m.describe(want))
			}
		case 2: // the ctx of a queued job ends
			if len(m.queued) == 0 {
				continue
			}
			f := m.queued[int(next())%len(m.queued)]
			q.remove(f)
			m.remove(f)
		case 3: // time passes
			now = min(now+int64(next())*min(step/7+1, 1<<50), 1<<61) // enq stays below 2^62
		case 4: // a Submit finds the queue full
			f := m.newTask(fuzzPriority(next()), now)
			got, want := q.evictFor(f), m.evictFor(f, now, evict)
			if got != want {
				t.Fatalf("evictFor(prio %d): got %s, want %s", m.prio[f], m.describe(got), m.describe(want))
			}
			if got != nil {
				q.push(f)
				m.push(f, now)
			}
		case 5: // a Submit that read the clock earlier takes the lock late
			f := m.newTask(fuzzPriority(next()), max(now-int64(next())*min(step/7+1, 1<<50), 0))
			q.push(f)
			m.push(f, f.enq)
		}
		if q.len() != len(m.queued) {
			t.Fatalf("len: got %d, want %d", q.len(), len(m.queued))
		}
		var got *task[int]
		if l := q.oldest(); l != nil {
			got = l.head
			if l.prio != m.prio[got] {
				t.Fatalf("oldest: level %d holds %s", l.prio, m.describe(got))
			}
		}
		if want := m.oldest(); got != want {
			t.Fatalf("oldest: got %s, want %s", m.describe(got), m.describe(want))
		}
	}
	for q.len() > 0 { // drain: the whole order must match
		if got, want := q.pop(), m.pop(); got != want {
			t.Fatalf("drain: got %s, want %s", m.describe(got), m.describe(want))
		}
	}
	if q.pop() != nil {
		t.Fatal("pop on an empty queue returned a job")
	}
}

// fuzzPriority maps a byte to a priority: a few nearby levels, where ties
// and aging interplay; many far apart, so that empty levels pile up and get
// swept; and the extremes, where the credit must be clamped.
func fuzzPriority(b byte) int {
	switch b {
	case 250:
		return math.MaxInt
	case 251:
		return math.MinInt
	case 252:
		return math.MaxInt - 1
	case 253:
		return math.MinInt + 1
	case 254:
		return 1 << 40
	case 255:
		return -1 << 40
	}
	if b >= 100 {
		return 1000 * int(b)
	}
	return int(b%8) - 3
}

// newTask returns a job of priority prio submitted at now, with a ctx
// watcher's extra, as a job that can be removed from the queue has.
func (m *prioModel) newTask(prio int, now int64) *task[int] {
	if m.prio == nil {
		m.prio, m.enq, m.seq = map[*task[int]]int{}, map[*task[int]]int64{}, map[*task[int]]int{}
	}
	f := &task[int]{ctx: WithPriority(context.Background(), prio), enq: now}
	f.extra()
	m.prio[f] = prio
	return f
}

func (m *prioModel) describe(f *task[int]) string {
	if f == nil {
		return "nil"
	}
	return fmt.Sprintf("job(prio %d, seq %d)", m.prio[f], m.seq[f])
}

// prioModel is the reference: the queued jobs in arrival order, each ranked
// by the documented rule at every look-up.
type prioModel struct {
	step   int64
	queued []*task[int]
	prio   map[*task[int]]int
	enq    map[*task[int]]int64
	seq    map[*task[int]]int
	n      int
}

// push queues f, read the clock at stamp. A job is never queued with an
// earlier time than a queued job of its level that came before it.
func (m *prioModel) push(f *task[int], stamp int64) {
	for _, g := range m.queued {
		if m.prio[g] == m.prio[f] {
			stamp = max(stamp, m.enq[g])
		}
	}
	m.n++
	m.queued = append(m.queued, f)
	m.enq[f], m.seq[f] = stamp, m.n
}

// rank returns what orders a job: the smaller runs first. Strict mode ranks
// by priority alone; aging by enq - clamp(prio*step), with the clamp at
// ±2^62 ns. Ties go to the earlier Submit (enqueue time), then to the
// earlier arrival in the queue.
func (m *prioModel) rank(prio int, enq int64) *big.Int {
	if m.step == 0 {
		return big.NewInt(0).Neg(big.NewInt(int64(prio)))
	}
	credit := new(big.Int).Mul(big.NewInt(int64(prio)), big.NewInt(m.step))
	bound := new(big.Int).Lsh(big.NewInt(1), 62)
	if credit.Cmp(bound) > 0 {
		credit = bound
	}
	if credit.Cmp(new(big.Int).Neg(bound)) < 0 {
		credit = new(big.Int).Neg(bound)
	}
	return new(big.Int).Sub(big.NewInt(enq), credit)
}

// runsFirst reports whether a ranks above b.
func (m *prioModel) runsFirst(a, b *task[int]) bool {
	if c := m.rank(m.prio[a], m.enq[a]).Cmp(m.rank(m.prio[b], m.enq[b])); c != 0 {
		return c < 0
	}
	if m.enq[a] != m.enq[b] {
		return m.enq[a] < m.enq[b]
	}
	return m.seq[a] < m.seq[b]
}

func (m *prioModel) pop() *task[int] {
	if len(m.queued) == 0 {
		return nil
	}
	best := m.queued[0]
	for _, f := range m.queued[1:] {
		if m.runsFirst(f, best) {
			best = f
		}
	}
	m.remove(best)
	return best
}

func (m *prioModel) remove(f *task[int]) {
	m.queued = slices.DeleteFunc(m.queued, func(g *task[int]) bool { return g == f })
}

// oldest is the job with the earliest enqueue time; of those with that
// time, the first of the lowest priority.
func (m *prioModel) oldest() *task[int] {
	if len(m.queued) == 0 {
		return nil
	}
	o := m.queued[0]
	for _, f := range m.queued[1:] { // in arrival order: the first of equals stays
		if m.enq[f] < m.enq[o] || m.enq[f] == m.enq[o] && m.prio[f] < m.prio[o] {
			o = f
		}
	}
	return o
}

// evictFor picks the job that ranks last, if f queued now would rank
// strictly above it.
func (m *prioModel) evictFor(f *task[int], now int64, evict bool) *task[int] {
	if !evict || len(m.queued) == 0 {
		return nil
	}
	worst := m.queued[0]
	for _, g := range m.queued[1:] {
		if m.runsFirst(worst, g) {
			worst = g
		}
	}
	if m.rank(m.prio[f], now).Cmp(m.rank(m.prio[worst], m.enq[worst])) >= 0 {
		return nil
	}
	m.remove(worst)
	return worst
}
