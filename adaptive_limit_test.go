package crew

// The limit's tests: the engine's side (a scripted controller moves the
// limit; workers follow) and the gradient controller's rules, one window at
// a time. The controller against a model downstream is in
// adaptive_sim_test.go.

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAdaptiveLimitRiseStartsWorkersForQueuedJobs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewAdaptivePool[int](0, 8)
		withController(p, &scripted{limits: []int{6}}, 1)
		quick := submitN(t, p, 1, func(context.Context) (int, error) {
			time.Sleep(time.Millisecond)
			return 0, nil
		})
		blk := newBlocker()
		fs := submitN(t, p, 10, blk.job)
		synctest.Wait()
		s := p.Stats()
		require.Equal(t, 1, s.Workers, "at limit 1: %+v", s)
		require.Equal(t, 10, s.Queued, "at limit 1: %+v", s)
		time.Sleep(time.Millisecond) // quick ends; the controller says 6
		waitAll(t, quick)
		synctest.Wait()
		s = p.Stats()
		assert.Equal(t, 6, p.Limit())
		assert.Equal(t, 6, s.Workers, "after the limit rose to 6: %+v", s)
		assert.Equal(t, 6, s.Busy, "6 busy at once after the limit rose to 6: %+v", s)
		close(blk.release)
		waitAll(t, fs)
		require.NoError(t, p.Close(context.Background()))
	})
}

func TestAdaptiveLimitFallRetiresSurplus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewAdaptivePool[int](1, 8, WithIdleTimeout(0)) // idle workers never time out
		ctl := &scripted{}
		withController(p, ctl, 8)
		short, trigger, long := newBlocker(), newBlocker(), newBlocker()
		fs := submitN(t, p, 4, short.job)
		fs = append(fs, submitN(t, p, 1, trigger.job)...)
		fs = append(fs, submitN(t, p, 3, long.job)...)
		synctest.Wait()
		close(short.release)
		synctest.Wait()
		s := p.Stats()
		require.Equal(t, 8, s.Workers, "before the fall, want 4 idle and 4 busy: %+v", s)
		require.Equal(t, 4, s.Busy, "before the fall, want 4 idle and 4 busy: %+v", s)
		script(p, ctl, 3)
		close(trigger.release) // its end drops the limit to 3
		synctest.Wait()
		// The 4 idle workers (and the trigger's) retire at once, the busy
		// ones stay with their jobs.
		s = p.Stats()
		assert.Equal(t, 3, p.Limit())
		assert.Equal(t, 3, s.Workers, "after the limit fell to 3, the idle workers are gone: %+v", s)
		assert.Equal(t, 3, s.Busy, "after the limit fell to 3: %+v", s)
		close(long.release)
		waitAll(t, fs)
		synctest.Wait()
		assert.Equal(t, 3, p.Stats().Workers, "after the busy ones finished: the limit")
		// Under the lower limit, a burst runs 3 at a time.
		blk := newBlocker()
		fs = submitN(t, p, 6, blk.job)
		synctest.Wait()
		s = p.Stats()
		assert.Equal(t, 3, s.Busy, "burst under limit 3: %+v", s)
		assert.Equal(t, 3, s.Workers, "burst under limit 3: %+v", s)
		close(blk.release)
		waitAll(t, fs)
		require.NoError(t, p.Close(context.Background()))
	})
}

// TestAdaptiveLimitControlSeesJobs: the controller sees each job's own
// running time and error, and nothing of a job that never ran.
func TestAdaptiveLimitControlSeesJobs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := NewAdaptivePool[int](0, 4)
		var got []time.Duration
		var overloads []bool
		rec := &recorder{f: func(d time.Duration, overload bool) {
			got, overloads = append(got, d), append(overloads, overload)
		}}
		withController(p, rec, 4)
		boom := errors.New("boom")
		job := func(d time.Duration, err error) Job[int] {
			return func(context.Context) (int, error) { time.Sleep(d); return 0, err }
		}
		_, err := Do(context.Background(), Pool[int](p), job(3*time.Millisecond, nil))
		require.NoError(t, err)
		_, err = Do(context.Background(), Pool[int](p), job(5*time.Millisecond, boom))
		require.ErrorIs(t, err, boom)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err = p.Submit(ctx, job(0, nil))
		require.ErrorIs(t, err, context.Canceled, "a cancelled ctx was accepted")
		require.NoError(t, p.Close(context.Background()))
		p.e.mu.Lock()
		defer p.e.mu.Unlock()
		assert.Equal(t, []time.Duration{3 * time.Millisecond, 5 * time.Millisecond}, got)
		assert.Equal(t, []bool{false, true}, overloads)
	})
}

// recorder is a controller that counts every job and hands what it observes
// to f; an error says overload. It never moves the limit.
type recorder struct{ f func(time.Duration, bool) }

func (r *recorder) judge(err error) (bool, bool) { return true, err != nil }

func (r *recorder) observe(d time.Duration, overload bool, limit, _ int) int {
	r.f(d, overload)
	return limit
}

// TestGradientJudge: cancellations and panics are left out of the
// windows, and so are the errors IsOverload rejects; other errors say
// overload.
func TestGradientJudge(t *testing.T) {
	boom := errors.New("503")
	notOverload := errors.New("404")
	g := newGradient(LimitConfig{IsOverload: func(err error) bool { return err != notOverload }}, 1, 8)
	tests := []struct {
		name         string
		give         error
		wantCounts   bool
		wantOverload bool
	}{
		{"success", nil, true, false},
		{"an error IsOverload accepts", boom, true, true},
		{"an error IsOverload rejects", notOverload, false, false},
		{"cancellation", context.Canceled, false, false},
		{"wrapped cancellation", fmt.Errorf("call: %w", context.Canceled), false, false},
		{"deadline", context.DeadlineExceeded, true, true},
		{"panic", &PanicError{Value: "bug"}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			counts, overload := g.judge(tt.give)
			assert.Equal(t, tt.wantCounts, counts, "counts")
			assert.Equal(t, tt.wantOverload, overload, "overload")
		})
	}
}
