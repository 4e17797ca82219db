package crew

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// FuzzBreaker drives a Breaker through its Guard methods, Trip, Reset,
// State and the passing of time, and checks every answer against refBreaker,
// a plain model that keeps each job's permit and each probe slot's holder
// explicitly and moves through time eagerly.
func FuzzBreaker(f *testing.F) {
	f.Add([]byte{0, 1, 1, 3, 0, 0, 1, 0})
	f.Add([]byte{1, 2, 0, 0, 0, 3, 1, 0, 3, 2, 7, 2, 6, 30, 0, 0, 1, 0, 1, 1, 2, 0, 7, 2})
	f.Add([]byte{2, 1, 7, 0, 6, 20, 0, 0, 0, 5, 0, 1, 1, 6, 14, 7, 2, 0, 1, 2, 2, 1})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 3, 0, 3, 0, 6, 20, 0, 1, 0, 4, 0, 0, 1, 0, 2, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		synctest.Test(t, func(t *testing.T) { fuzzBreaker(t, data) })
	})
}

func fuzzBreaker(t *testing.T, data []byte) {
	threshold, max := int(data[0]%4)+1, int(data[1]%3)+1
	data = data[2:]
	const reset, probeTO, slow = time.Second, 700 * time.Millisecond, 300 * time.Millisecond
	var got [][2]CircuitState
	b := NewBreaker(BreakerConfig{
		FailureThreshold: threshold, HalfOpenMaxRequests: max, ResetTimeout: reset,
		ProbeTimeout: probeTO, SlowCallThreshold: slow,
		OnStateChange: func(from, to CircuitState) { got = append(got, [2]CircuitState{from, to}) },
	})
	m := &refBreaker{threshold: threshold, max: max, reset: reset, probeTO: probeTO}
	type job struct {
		started  bool
		admitted Ticket // Admit's ticket
		ticket   Ticket // Start's
	}
	var jobs []*job
	var live []int // indexes of jobs admitted and not finished
	next := func() int {
		if len(data) == 0 {
			return 0
		}
		v := int(data[0])
		data = data[1:]
		return v
	}
	pick := func(started bool) int { // a live job in the phase wanted, or -1
		var c []int
		for _, i := range live {
			if jobs[i].started == started {
				c = append(c, i)
			}
		}
		if len(c) == 0 {
			return -1
		}
		return c[next()%len(c)]
	}
	finish := func(i int) { live = slices.DeleteFunc(live, func(j int) bool { return j == i }) }
	ctx := context.Background()
	for step := 0; len(data) > 0; step++ {
		op := next() % 8
		switch op {
		case 0: // Admit
			adm, err := b.Admit(ctx)
			want := m.admit(len(jobs))
			checkRejection(t, step, "Admit", err, want)
			if err == nil {
				jobs = append(jobs, &job{admitted: adm})
				live = append(live, len(jobs)-1)
			}
		case 1: // Start
			i := pick(false)
			if i < 0 {
				continue
			}
			tk, err := b.Start(ctx, jobs[i].admitted)
			want, probe := m.start(i)
			checkRejection(t, step, "Start", err, want)
			if err != nil {
				finish(i)
				continue
			}
			if gotProbe := tk&3 == ticketProbe; gotProbe != probe {
				t.Fatalf("step %d: Start: probe = %v, model says %v", step, gotProbe, probe)
			}
			jobs[i].started, jobs[i].ticket = true, tk
		case 2, 3, 4: // Done: success, failure, cancelled
			i := pick(true)
			if i < 0 {
				continue
			}
			elapsed := time.Duration(next()%8) * 100 * time.Millisecond
			err := []error{nil, errors.New("boom"), context.Canceled}[op-2]
			b.Done(jobs[i].ticket, err, elapsed)
			m.done(i, op-2, elapsed > slow)
			finish(i)
		case 5: // Abandon
			i := pick(false)
			if i < 0 {
				continue
			}
			b.Abandon(jobs[i].admitted)
			m.abandon(i)
			finish(i)
		case 6: // time passes
			d := time.Duration(next()%32) * 50 * time.Millisecond
			time.Sleep(d)
			m.sleep(d)
		case 7:
			switch next() % 3 {
			case 0:
				b.Trip()
				m.trip()
			case 1:
				b.Reset()
				m.reset_()
			case 2:
				if s, want := b.State(), m.state; s != want {
					t.Fatalf("step %d: State = %v, model says %v", step, s, want)
				}
			}
		}
	}
	if s, want := b.State(), m.state; s != want {
		t.Fatalf("end: State = %v, model says %v", s, want)
	}
	if !slices.Equal(got, m.events) {
		t.Fatalf("OnStateChange calls\n got %v\nwant %v", got, m.events)
	}
}

// checkRejection compares a Guard method's error with the model's: nil, or
// an ErrCircuitOpen rejection after want.
func checkRejection(t *testing.T, step int, what string, err error, want *time.Duration) {
	t.Helper()
	if (err == nil) != (want == nil) {
		t.Fatalf("step %d: %s = %v, model says rejected = %v", step, what, err, want != nil)
	}
	if err == nil {
		return
	}
	re, ok := errors.AsType[*RejectedError](err)
	if !ok || !errors.Is(err, ErrCircuitOpen) || re.Guard != "breaker" || re.RetryAfter != *want {
		t.Fatalf("step %d: %s = %#v, want ErrCircuitOpen after %v", step, what, err, *want)
	}
}

// refBreaker is the reference model. Time is a duration since the start;
// each job's permit generation is kept with the job; each half-open slot
// has a holder.
type refBreaker struct {
	threshold, max      int
	reset, probeTO      time.Duration
	now                 time.Duration
	state               CircuitState
	gen                 int
	openUntil, roundEnd time.Duration // roundEnd < 0: no slot in use
	fails               int
	slots               []refSlot
	permit              map[int]refPermit // started jobs
	events              [][2]CircuitState
}

type refSlot struct {
	job   int
	phase int // 0 reserved at Admit, 1 running, 2 succeeded
}

type refPermit struct {
	gen   int
	probe bool
}

func (m *refBreaker) set(s CircuitState) {
	if s != m.state {
		m.events = append(m.events, [2]CircuitState{m.state, s})
	}
	m.state, m.gen, m.fails, m.slots, m.roundEnd = s, m.gen+1, 0, nil, -1
}

func (m *refBreaker) open(at time.Duration) {
	m.set(StateOpen)
	m.openUntil = at + m.reset
}

// sleep lets time pass, making every change of state due on the way.
func (m *refBreaker) sleep(d time.Duration) {
	end := m.now + d
	for {
		switch {
		case m.state == StateOpen && m.openUntil <= end:
			m.now = m.openUntil
			m.set(StateHalfOpen)
		case m.state == StateHalfOpen && m.roundEnd >= 0 && m.roundEnd <= end:
			m.now = m.roundEnd
			m.open(m.roundEnd)
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
}

func (m *refBreaker) release(i int) {
	m.slots = slices.Delete(m.slots, i, i+1)
	if m.inUse() == 0 {
		m.roundEnd = -1
	}
}

func (m *refBreaker) refuse() *time.Duration {
	d := time.Duration(0)
	if m.state == StateOpen {
		d = m.openUntil - m.now
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
		m.open(m.now)
	default:
		i := slices.IndexFunc(m.slots, func(s refSlot) bool { return s.job == job && s.phase == 1 })
		m.slots[i].phase = 2
		if len(m.slots)-m.inUse() >= m.max {
			m.set(StateClosed)
		}
	}
}

// abandon gives back a reserved slot, the job's own or, if it had none,
// another job's (the Breaker cannot tell jobs apart at Abandon).
func (m *refBreaker) abandon(job int) {
	if m.state != StateHalfOpen {
		return
	}
	// Only its own reservation: slots are cleared with every new round.
	if i := slices.IndexFunc(m.slots, func(s refSlot) bool { return s.job == job && s.phase == 0 }); i >= 0 {
		m.release(i)
	}
}

func (m *refBreaker) trip()   { m.open(m.now) }
func (m *refBreaker) reset_() { m.set(StateClosed) }

// TestBreakerHammerProbes runs many goroutines through the Guard methods,
// with Trip and Reset mixed in, under the race detector, and checks by the
// permits handed out that no generation ever runs more than
// HalfOpenMaxRequests probes at a time, and that probes did run.
func TestBreakerHammerProbes(t *testing.T) {
	const max = 3
	b := NewBreaker(BreakerConfig{FailureThreshold: 2, HalfOpenMaxRequests: max, ResetTimeout: time.Microsecond, ProbeTimeout: time.Hour})
	var mu sync.Mutex
	running := map[Ticket]int{} // probes running, by generation
	var worst, total atomic.Int32
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 3000 {
				switch {
				case g == 0 && i%50 == 0:
					b.Trip()
				case g == 1 && i%70 == 0:
					b.Reset()
				default:
					adm, err := b.Admit(ctx)
					if err != nil {
						continue
					}
					if i%11 == 0 {
						b.Abandon(adm)
						continue
					}
					tk, err := b.Start(ctx, adm)
					if err != nil {
						continue
					}
					gen := tk &^ 3
					if tk&3 == ticketProbe {
						mu.Lock()
						running[gen]++
						n := running[gen]
						mu.Unlock()
						total.Add(1)
						for w := worst.Load(); int32(n) > w && !worst.CompareAndSwap(w, int32(n)); w = worst.Load() {
						}
					}
					// The probe ends when Done is called: Done may free its
					// slot for the next one at once.
					if tk&3 == ticketProbe {
						mu.Lock()
						running[gen]--
						mu.Unlock()
					}
					errs := []error{nil, errors.New("boom"), context.Canceled}
					b.Done(tk, errs[i%3], 0)
				}
			}
		})
	}
	wg.Wait()
	if worst.Load() > max {
		t.Fatalf("%d probes of one generation ran at once; at most %d allowed", worst.Load(), max)
	}
	if total.Load() == 0 {
		t.Fatal("no probe ran: the test checked nothing")
	}
}

// TestGuardsHammer submits, cancels, panics and closes concurrently through
// Chain(pool, limiter, breaker), and then checks the books: every accepted
// job resolved, the pool's counters add up, the limiter's backlog is empty
// (each admitted job reached Start or Abandon once) and the breaker holds
// no reserved probe slot.
func TestGuardsHammer(t *testing.T) {
	l := NewRateLimiter(200_000, 20, WithMaxWait(time.Millisecond))
	b := NewBreaker(BreakerConfig{FailureThreshold: 3, ResetTimeout: 200 * time.Microsecond, HalfOpenMaxRequests: 2})
	p := Chain[int](NewPool[int](4, WithQueueSize(16)), l, b)
	var mu sync.Mutex
	var futures []*Future[int]
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 400 {
				ctx, cancel := context.WithCancel(context.Background())
				f, err := p.Submit(ctx, func(ctx context.Context) (int, error) {
					switch (g + i) % 7 {
					case 0:
						return 0, errors.New("boom")
					case 1:
						panic("boom")
					case 2:
						return 0, ctx.Err()
					}
					return i, nil
				})
				if i%5 == 0 {
					cancel()
				}
				if err == nil {
					mu.Lock()
					futures = append(futures, f)
					mu.Unlock()
				} else if _, ok := errors.AsType[*RejectedError](err); !ok && !errors.Is(err, ErrClosed) && !errors.Is(err, context.Canceled) {
					t.Errorf("Submit: unexpected %v", err)
				}
				if g == 0 && i == 300 {
					go p.Close(context.Background()) // races the other Submits
				}
				defer cancel()
			}
		})
	}
	wg.Wait()
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, f := range futures {
		if _, ok := f.Result(); !ok {
			t.Fatal("an accepted job never resolved")
		}
	}
	s := p.Stats()
	if s.Submitted != s.Completed+s.Canceled || s.Submitted != uint64(len(futures)) {
		t.Fatalf("stats do not add up: %+v, %d futures", s, len(futures))
	}
	if n := l.pending.Load(); n != 0 {
		t.Fatalf("the limiter's backlog is %d after Close, want 0", n)
	}
	b.mu.Lock()
	reserved := b.reserved
	b.mu.Unlock()
	if reserved != 0 {
		t.Fatalf("the breaker holds %d reserved probe slots after Close, want 0", reserved)
	}
}
