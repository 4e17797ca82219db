package crew_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

func TestExecuteCallsThroughAGuard(t *testing.T) {
	log := &callLog{}
	g := &recGuard{name: "g", log: log}
	v, err := crew.Execute(context.Background(), g, func(context.Context) (string, error) {
		log.add("fn")
		return "ok", nil
	})
	require.NoError(t, err)
	assert.Equal(t, "ok", v)
	assert.Equal(t, []string{"g.Admit", "g.Start", "fn", "g.Done"}, log.take())
	assert.Equal(t, crew.Ticket(42), g.lastTicket, "Done gets Start's ticket")

	boom := errors.New("boom")
	_, err = crew.Execute(context.Background(), g, func(context.Context) (int, error) { return 0, boom })
	assert.ErrorIs(t, err, boom)
	assert.ErrorIs(t, g.lastErr, boom, "the guard hears the outcome")
}

func TestExecuteRefusals(t *testing.T) {
	refused := &crew.RejectedError{Guard: "g", Err: crew.ErrRateLimited}
	for _, tt := range []struct {
		name string
		g    *recGuard
		want []string
	}{
		{"at Admit", &recGuard{name: "g", admitErr: refused}, []string{"g.Admit"}},
		{"at Start", &recGuard{name: "g", startErr: refused}, []string{"g.Admit", "g.Start"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.g.log = &callLog{}
			ran := false
			_, err := crew.Execute(context.Background(), tt.g, func(context.Context) (int, error) { ran = true; return 1, nil })
			assert.ErrorIs(t, err, crew.ErrRateLimited)
			assert.False(t, ran)
			assert.Equal(t, tt.want, tt.g.log.take())
		})
	}
}

func TestExecutePanicsAndGoexitReachTheGuard(t *testing.T) {
	b := crew.NewBreaker(crew.BreakerConfig{FailureThreshold: 2})
	_, err := crew.Execute(context.Background(), b, func(context.Context) (int, error) { panic("boom") })
	var pe *crew.PanicError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "boom", pe.Value)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = crew.Execute(context.Background(), b, func(context.Context) (int, error) {
			runtime.Goexit()
			return 0, nil
		})
	}()
	<-done
	assert.Equal(t, crew.StateOpen, b.State(), "a panic and a Goexit are two failures")
}

func TestExecuteRunTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		_, err := crew.Execute(crew.WithRunTimeout(context.Background(), time.Second), crew.NewBreaker(crew.BreakerConfig{}),
			func(ctx context.Context) (int, error) {
				<-ctx.Done()
				return 0, ctx.Err()
			})
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, time.Second, time.Since(start))
	})
}

func TestExecuteBadInput(t *testing.T) {
	b := crew.NewBreaker(crew.BreakerConfig{})
	fn := func(context.Context) (int, error) { return 1, nil }
	_, err := crew.Execute(nilCtx, b, fn)
	assert.Error(t, err)
	_, err = crew.Execute(context.Background(), nil, fn)
	assert.Error(t, err)
	_, err = crew.Execute(context.Background(), (*crew.Breaker)(nil), fn)
	assert.Error(t, err, "a nil pointer in the interface")
	_, err = crew.Execute[int](context.Background(), b, nil)
	assert.Error(t, err)
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = crew.Execute(ended, b, fn)
	assert.ErrorIs(t, err, context.Canceled)
}
