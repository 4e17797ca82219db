package crew_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

// panicGuard panics in the method named by in, and records the other calls.
type panicGuard struct {
	in  string
	log *callLog
}

func (g panicGuard) Admit(context.Context) (crew.Ticket, error) {
	g.log.add("Admit")
	if g.in == "Admit" {
		panic("guard Admit")
	}
	return 0, nil
}

func (g panicGuard) Start(context.Context, crew.Ticket) (crew.Ticket, error) {
	g.log.add("Start")
	if g.in == "Start" {
		panic("guard Start")
	}
	return 0, nil
}

func (g panicGuard) Done(crew.Ticket, error, time.Duration) {
	g.log.add("Done")
	if g.in == "Done" {
		panic("guard Done")
	}
}

func (g panicGuard) Abandon(crew.Ticket) {
	g.log.add("Abandon")
	if g.in == "Abandon" {
		panic("guard Abandon")
	}
}

// TestChainGuardPanics: a Guard is user code, and a panic in any of its
// methods must not end the program (it would, from a worker goroutine).
// From Admit, Submit returns a *PanicError; from Start, the job does not
// run and its Future resolves with one; from Done, the job ran and its
// Future resolves with one; from Abandon, the job keeps its own outcome.
// The guards around the panicking one still hear of the job, and the pool
// keeps working. Both the engine's path and the one for a foreign pool.
func TestChainGuardPanics(t *testing.T) {
	tests := []struct {
		name      string
		give      string // the method that panics
		wantPanic any    // the *PanicError's Value; nil: the job's own outcome
		wantErr   error  // when wantPanic is nil
		wantRan   bool
		wantOuter []string // the calls the outer guard hears
	}{
		{name: "Admit", give: "Admit", wantPanic: "guard Admit", wantOuter: []string{"outer.Admit", "outer.Abandon"}},
		{name: "Start", give: "Start", wantPanic: "guard Start", wantOuter: []string{"outer.Admit", "outer.Start", "outer.Done"}},
		{name: "Done", give: "Done", wantPanic: "guard Done", wantRan: true, wantOuter: []string{"outer.Admit", "outer.Start", "outer.Done"}},
		// A Submit with an ended ctx is refused after Admit; the guards
		// that admitted it are told to Abandon.
		{name: "Abandon", give: "Abandon", wantErr: context.Canceled, wantOuter: []string{"outer.Admit", "outer.Abandon"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, kind := range []string{"engine", "foreign"} {
				t.Run(kind, func(t *testing.T) {
					var base crew.Pool[int] = crew.NewPool[int](1)
					if kind == "foreign" {
						base = foreignPool[int]{base}
					}
					outer := &recGuard{name: "outer", log: &callLog{}}
					p := crew.Chain[int](base, outer, panicGuard{in: tt.give, log: &callLog{}})
					ran := false
					ctx := context.Background()
					if tt.give == "Abandon" {
						c, cancel := context.WithCancel(ctx)
						cancel()
						ctx = c
					}
					v, err := crew.Do(ctx, p, func(context.Context) (int, error) { ran = true; return 1, nil })
					if tt.wantPanic != nil {
						var pe *crew.PanicError
						require.ErrorAs(t, err, &pe)
						assert.Equal(t, tt.wantPanic, pe.Value)
					} else {
						assert.ErrorIs(t, err, tt.wantErr)
					}
					assert.Equal(t, tt.wantRan, ran, "the job ran")
					if tt.wantRan {
						assert.Equal(t, 1, v)
						assert.NoError(t, outer.lastErr, "the outer guard hears the job's own outcome")
					}
					assert.Equal(t, tt.wantOuter, outer.log.take())
					// The pool still works.
					v, err = crew.Do(context.Background(), base, value(2))
					require.NoError(t, err)
					assert.Equal(t, 2, v)
					require.NoError(t, p.Close(context.Background()))
				})
			}
		})
	}
}
