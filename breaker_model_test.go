package crew

import (
	"slices"
	"time"
)

// refBreaker is FuzzBreaker's reference model. Time is a duration since the
// start; each job's permit generation is kept with the job; each half-open
// slot has a holder; every change of time is made eagerly.
type refBreaker struct {
	threshold, max      int
	reset, probeTO      time.Duration
	spread, ramp        time.Duration
	now                 time.Duration
	state               CircuitState
	gen                 int
	openUntil, roundEnd time.Duration // roundEnd < 0: no slot in use
	since               time.Duration // when the state began
	ramping             bool
	credit              float64
	fails               int
	slots               []refSlot
	permit              map[int]refPermit // started jobs
	events              [][2]CircuitState

	trips, probes, probeOK, probeFailed, refusals uint64
	calls, failures                               uint64
}

type refSlot struct {
	job   int
	phase int // 0 reserved at Admit, 1 running, 2 succeeded
}

type refPermit struct {
	gen   int
	probe bool
}

func (m *refBreaker) set(s CircuitState, at time.Duration) {
	if s != m.state {
		m.events = append(m.events, [2]CircuitState{m.state, s})
		if s == StateOpen {
			m.trips++
		}
	}
	m.state, m.gen, m.fails, m.slots, m.roundEnd = s, m.gen+1, 0, nil, -1
	m.since, m.ramping = at, false
}

func (m *refBreaker) open(at time.Duration) {
	m.set(StateOpen, at)
	m.openUntil = at + m.reset
}

// sleep lets time pass, making every change of state due on the way.
func (m *refBreaker) sleep(d time.Duration) {
	end := m.now + d
	for {
		switch {
		case m.state == StateOpen && m.openUntil <= end:
			m.now = m.openUntil
			m.set(StateHalfOpen, m.now)
		case m.state == StateHalfOpen && m.roundEnd >= 0 && m.roundEnd <= end:
			m.now = m.roundEnd
			m.open(m.roundEnd)
		case m.ramping && m.since+m.ramp <= end:
			m.ramping = false
		default:
			m.now = end
			return
		}
	}
}

func (m *refBreaker) inUse() int {
	n := 0
	for _, s := range m.slots {
		if s.phase != 2 {
			n++
		}
	}
	return n
}

func (m *refBreaker) take(job, phase int) {
	if m.inUse() == 0 {
		m.roundEnd = m.now + m.probeTO
	}
	m.slots = append(m.slots, refSlot{job, phase})
	m.probes++
}

func (m *refBreaker) release(i int) {
	m.slots = slices.Delete(m.slots, i, i+1)
	if m.inUse() == 0 {
		m.roundEnd = -1
	}
}

// refuse counts a refusal and returns its RetryAfter: the k-th refusal's
// offset is spread × frac(k × 2^64/φ / 2^64), computed here in exact big
// arithmetic over the same 64-bit step, and open adds the time left.
func (m *refBreaker) refuse() *time.Duration {
	m.refusals++
	off := refOffset(m.spread, m.refusals)
	d := m.spread - off
	if m.state == StateOpen {
		d = m.openUntil - m.now + off
	}
	return &d
}

func (m *refBreaker) admit(job int) *time.Duration {
	switch m.state {
	case StateOpen:
		return m.refuse()
	case StateHalfOpen:
		if len(m.slots) >= m.max {
			return m.refuse()
		}
		m.take(job, 0)
	case StateClosed:
		if m.ramping {
			m.credit += float64(m.now-m.since) / float64(m.ramp)
			if m.credit < 1 {
				return m.refuse()
			}
			m.credit--
		}
	}
	return nil
}

// start returns the refusal, or whether the job runs as a probe. Half-open,
// only a job that reserved a slot at Admit in this round runs, in its own
// slot; a job admitted before the round is refused like one queued before
// the circuit opened.
func (m *refBreaker) start(job int) (*time.Duration, bool) {
	if m.permit == nil {
		m.permit = map[int]refPermit{}
	}
	switch m.state {
	case StateOpen:
		return m.refuse(), false
	case StateHalfOpen:
		i := slices.IndexFunc(m.slots, func(s refSlot) bool { return s.job == job && s.phase == 0 })
		if i < 0 {
			return m.refuse(), false
		}
		m.slots[i].phase = 1
		m.permit[job] = refPermit{m.gen, true}
		return nil, true
	}
	m.permit[job] = refPermit{m.gen, false}
	return nil, false
}

// done counts outcome 0 success, 1 failure, 2 cancelled.
func (m *refBreaker) done(job, outcome int, slow bool) {
	p := m.permit[job]
	if p.gen != m.gen {
		return
	}
	failed := outcome == 1 || outcome == 0 && slow
	if outcome != 2 {
		m.calls++
		if failed {
			m.failures++
		}
	}
	if outcome == 2 {
		if p.probe {
			m.release(slices.IndexFunc(m.slots, func(s refSlot) bool { return s.job == job && s.phase == 1 }))
		}
		return
	}
	switch {
	case !p.probe && failed:
		m.fails++
		if m.fails >= m.threshold {
			m.open(m.now)
		}
	case !p.probe:
		m.fails = 0
	case failed:
		m.probeFailed++
		m.open(m.now)
	default:
		m.probeOK++
		i := slices.IndexFunc(m.slots, func(s refSlot) bool { return s.job == job && s.phase == 1 })
		m.slots[i].phase = 2
		if len(m.slots)-m.inUse() >= m.max {
			m.set(StateClosed, m.now)
			m.ramping, m.credit = m.ramp > 0, 1
		}
	}
}

// abandon gives back the job's own reserved slot, if it has one in this
// round (slots are cleared with every new round).
func (m *refBreaker) abandon(job int) {
	if m.state != StateHalfOpen {
		return
	}
	if i := slices.IndexFunc(m.slots, func(s refSlot) bool { return s.job == job && s.phase == 0 }); i >= 0 {
		m.release(i)
	}
}

func (m *refBreaker) trip()   { m.open(m.now) }
func (m *refBreaker) reset_() { m.set(StateClosed, m.now) }
