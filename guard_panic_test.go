package crew_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/crew-go/crew"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	for _, kind := range []string{"engine", "foreign"} {
		for _, in := range []string{"Admit", "Start", "Done", "Abandon"} {
			t.Run(kind+"/"+in, func(t *testing.T) {
				var base crew.Pool[int] = crew.NewPool[int](1)
				if kind == "foreign" {
					base = foreignPool[int]{base}
				}
				outer := &recGuard{name: "outer", log: &callLog{}}
				g := panicGuard{in: in, log: &callLog{}}
				p := crew.Chain[int](base, outer, g)
				ran := false
				job := func(context.Context) (int, error) { ran = true; return 1, nil }
				ctx := context.Background()
				if in == "Abandon" {
					c, cancel := context.WithCancel(ctx)
					cancel()
					ctx = c
				}
				v, err := crew.Do(ctx, p, job)
				var pe *crew.PanicError
				switch in {
				case "Admit":
					require.ErrorAs(t, err, &pe)
					assert.Equal(t, "guard Admit", pe.Value)
					assert.Equal(t, []string{"outer.Admit", "outer.Abandon"}, outer.log.take())
				case "Start":
					require.ErrorAs(t, err, &pe)
					assert.Equal(t, "guard Start", pe.Value)
					assert.False(t, ran, "a job whose guard panicked in Start ran")
					assert.Equal(t, []string{"outer.Admit", "outer.Start", "outer.Done"}, outer.log.take())
				case "Done":
					require.ErrorAs(t, err, &pe)
					assert.Equal(t, "guard Done", pe.Value)
					assert.True(t, ran)
					assert.Equal(t, 1, v)
					assert.Equal(t, []string{"outer.Admit", "outer.Start", "outer.Done"}, outer.log.take())
					assert.NoError(t, outer.lastErr, "the outer guard hears the job's own outcome")
				case "Abandon":
					// A Submit with an ended ctx is refused after Admit;
					// the guards that admitted it are told to Abandon.
					assert.True(t, errors.Is(err, context.Canceled), "%v", err)
				}
				// The pool still works.
				v, err = crew.Do(context.Background(), base, func(context.Context) (int, error) { return 2, nil })
				require.NoError(t, err)
				assert.Equal(t, 2, v)
				require.NoError(t, p.Close(context.Background()))
			})
		}
	}
}
