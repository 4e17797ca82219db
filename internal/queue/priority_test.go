package queue_test

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/crew-go/crew/internal/queue"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// item is a queued element for the tests.
type item struct {
	queue.Node[item]
	id int
}

func TestItemPutsNodeFirst(t *testing.T) {
	assert.Zero(t, unsafe.Offsetof(item{}.Node))
}

func TestFIFO(t *testing.T) {
	var q queue.FIFO[item]
	a, b, c := &item{id: 1}, &item{id: 2}, &item{id: 3}
	q.Push(a, 9)
	q.Push(b, -9)
	q.Push(c, 0)
	q.Remove(b, -9)
	assert.Equal(t, 2, q.Len())
	assert.Nil(t, q.EvictFor(100, 0), "a FIFO never evicts")
	assert.Same(t, a, q.Pop())
	assert.Same(t, c, q.Pop())
	assert.Nil(t, q.Pop())
}

// FuzzPriority drives the priority queue with random pushes, pops,
// cancellations (Remove), evictions and clock moves, in strict and aging
// mode, and checks every outcome against a reference model: a plain slice
// ranked by the rule of WithAging, computed with big integers.
func FuzzPriority(f *testing.F) {
	f.Add(int64(0), false, []byte{0, 3, 0, 1, 0, 2, 1, 1, 1})
	f.Add(int64(time.Millisecond), false, []byte{0, 0, 3, 200, 0, 9, 1, 2, 5, 1, 1})
	f.Add(int64(time.Millisecond), true, []byte{0, 0, 0, 7, 4, 9, 4, 1, 3, 90, 4, 0, 1, 1, 1})
	f.Add(int64(0), true, []byte{0, 1, 0, 2, 4, 3, 4, 0, 2, 0, 1, 1, 1})
	f.Add(int64(math.MaxInt64), true, []byte{0, 250, 0, 251, 0, 252, 0, 253, 4, 254, 1, 1, 1, 1})
	f.Add(int64(1), false, []byte{0, 250, 0, 251, 3, 255, 0, 252, 0, 253, 0, 254, 1, 1, 1, 1, 1})
	f.Fuzz(checkPriority)
}

// TestPriorityRandom runs the fuzz target's check on random operation
// sequences, so that plain go test covers more than the seed corpus.
func TestPriorityRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	steps := []int64{0, 1, int64(time.Millisecond), math.MaxInt64}
	for range 500 {
		ops := make([]byte, r.IntN(400))
		for i := range ops {
			ops[i] = byte(r.UintN(256))
		}
		checkPriority(t, steps[r.IntN(len(steps))], r.IntN(2) == 0, ops)
	}
}

// TestPriorityForgetsEmptyLevels: a queue that sees ever new priority
// levels keeps only a bounded number of empty ones, and still orders right.
func TestPriorityForgetsEmptyLevels(t *testing.T) {
	q := queue.NewPriority[item](time.Millisecond, true)
	q.SetClock(func() int64 { return 0 }) // no aging between the pushes
	for p := range 10_000 {
		a, b := &item{id: p}, &item{id: p + 1}
		q.Push(a, p)
		q.Push(b, p+1)
		require.Same(t, b, q.Pop(), "level %d", p)
		q.Remove(a, p)
		require.LessOrEqual(t, q.KeptLevels(), 2*queue.MaxSpareLevels+2, "after %d levels", p+1)
	}
	assert.Zero(t, q.Len())
	_, _, ok := q.Oldest()
	assert.False(t, ok)
}

// checkPriority runs ops on a queue and on the model, and fails at the
// first difference. Each op is a byte, some followed by an argument byte.
func checkPriority(t *testing.T, step int64, evict bool, ops []byte) {
	step = max(step, 0)
	var now int64
	q := queue.NewPriority[item](time.Duration(step), evict)
	q.SetClock(func() int64 { return now })
	m := &model{step: step, prio: map[*item]int{}, enq: map[*item]int64{}, seq: map[*item]int{}}
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
			e := m.newItem(fuzzPriority(next()), now)
			q.Push(e, m.prio[e])
			m.push(e, now)
		case 1: // pop
			got, want := q.Pop(), m.pop()
			require.Same(t, want, got, "pop: got %s, want %s", m.describe(got), m.describe(want))
		case 2: // the ctx of a queued element ends
			if len(m.queued) == 0 {
				continue
			}
			e := m.queued[int(next())%len(m.queued)]
			q.Remove(e, m.prio[e])
			m.remove(e)
		case 3: // time passes
			now = min(now+int64(next())*min(step/7+1, 1<<50), 1<<61) // enq stays below 2^62
		case 4: // a Submit finds the queue full
			e := m.newItem(fuzzPriority(next()), now)
			got, want := q.EvictFor(m.prio[e], now), m.evictFor(e, now, evict)
			require.Same(t, want, got, "evictFor(prio %d): got %s, want %s", m.prio[e], m.describe(got), m.describe(want))
			if got != nil {
				q.Push(e, m.prio[e])
				m.push(e, now)
			}
		case 5: // a Submit that read the clock earlier takes the lock late
			e := m.newItem(fuzzPriority(next()), max(now-int64(next())*min(step/7+1, 1<<50), 0))
			q.Push(e, m.prio[e])
			m.push(e, e.Enq)
		}
		require.Equal(t, len(m.queued), q.Len())
		prio, wait, ok := q.Oldest()
		if want := m.oldest(); want == nil {
			require.False(t, ok, "oldest of an empty queue")
		} else {
			require.True(t, ok)
			require.Equal(t, m.prio[want], prio, "oldest: want %s", m.describe(want))
			require.Equal(t, time.Duration(now-m.enq[want]), wait)
		}
	}
	for q.Len() > 0 { // drain: the whole order must match
		got, want := q.Pop(), m.pop()
		require.Same(t, want, got, "drain: got %s, want %s", m.describe(got), m.describe(want))
	}
	require.Nil(t, q.Pop(), "pop on an empty queue")
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

// model is the reference: the queued elements in arrival order, each
// ranked by the documented rule at every look-up.
type model struct {
	step   int64
	queued []*item
	prio   map[*item]int
	enq    map[*item]int64
	seq    map[*item]int
	n      int
}

// newItem returns an element of priority prio that read the clock at now.
func (m *model) newItem(prio int, now int64) *item {
	e := &item{}
	e.Enq = now
	m.prio[e] = prio
	return e
}

func (m *model) describe(e *item) string {
	if e == nil {
		return "nil"
	}
	return fmt.Sprintf("item(prio %d, seq %d)", m.prio[e], m.seq[e])
}

// push queues e, read the clock at stamp. An element is never queued with
// an earlier time than a queued element of its level that came before it.
func (m *model) push(e *item, stamp int64) {
	for _, g := range m.queued {
		if m.prio[g] == m.prio[e] {
			stamp = max(stamp, m.enq[g])
		}
	}
	m.n++
	m.queued = append(m.queued, e)
	m.enq[e], m.seq[e] = stamp, m.n
}

// rank returns what orders an element: the smaller comes out first. Strict
// mode ranks by priority alone; aging by enq - clamp(prio*step), with the
// clamp at ±2^62 ns. Ties go to the earlier enqueue time, then to the
// earlier arrival in the queue.
func (m *model) rank(prio int, enq int64) *big.Int {
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

// first reports whether a ranks above b.
func (m *model) first(a, b *item) bool {
	if c := m.rank(m.prio[a], m.enq[a]).Cmp(m.rank(m.prio[b], m.enq[b])); c != 0 {
		return c < 0
	}
	if m.enq[a] != m.enq[b] {
		return m.enq[a] < m.enq[b]
	}
	return m.seq[a] < m.seq[b]
}

func (m *model) pop() *item {
	if len(m.queued) == 0 {
		return nil
	}
	best := m.queued[0]
	for _, e := range m.queued[1:] {
		if m.first(e, best) {
			best = e
		}
	}
	m.remove(best)
	return best
}

func (m *model) remove(e *item) {
	m.queued = slices.DeleteFunc(m.queued, func(g *item) bool { return g == e })
}

// oldest is the element with the earliest enqueue time; of those with that
// time, the first of the lowest priority.
func (m *model) oldest() *item {
	if len(m.queued) == 0 {
		return nil
	}
	o := m.queued[0]
	for _, e := range m.queued[1:] { // in arrival order: the first of equals stays
		if m.enq[e] < m.enq[o] || m.enq[e] == m.enq[o] && m.prio[e] < m.prio[o] {
			o = e
		}
	}
	return o
}

// evictFor picks the element that ranks last, if e queued now would rank
// strictly above it.
func (m *model) evictFor(e *item, now int64, evict bool) *item {
	if !evict || len(m.queued) == 0 {
		return nil
	}
	worst := m.queued[0]
	for _, g := range m.queued[1:] {
		if m.first(worst, g) {
			worst = g
		}
	}
	if m.rank(m.prio[e], now).Cmp(m.rank(m.prio[worst], m.enq[worst])) >= 0 {
		return nil
	}
	m.remove(worst)
	return worst
}
