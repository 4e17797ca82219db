package crew

// The adaptive worker policy composed with other queue disciplines, through
// the engine's seam: newEngine(queue, config, policy).

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew/internal/queue"
)

// TestAdaptivePolicyComposesWithQueue builds engines with three queue
// disciplines, among them the priority pool's: the queue decides the order,
// the adaptive policy the worker count.
func TestAdaptivePolicyComposesWithQueue(t *testing.T) {
	tests := []struct {
		name string
		give func() discipline[int]
		want []int // start order of jobs 1..4, of priorities 2, 4, 1, 3, queued behind a burst
	}{
		{"fifo", func() discipline[int] { return &fifo[int]{} }, []int{1, 2, 3, 4}},
		{"lifo", func() discipline[int] { return &lifo[int]{} }, []int{4, 3, 2, 1}},
		// A priority pool whose worker count adapts.
		{"priority", func() discipline[int] {
			return prio[int]{queue.NewPriority[task[int]](DefaultAgingStep, false)}
		}, []int{2, 4, 1, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newConfig("test", forAdaptive, nil)
				p := &AdaptivePool[int]{e: newEngine(tt.give(), &c, workerPolicy{max: 4, idleTimeout: time.Second})}
				withController(p, &scripted{limits: []int{1}}, 4)

				// Adaptive: a burst grows the pool to max at once.
				blk := newBlocker()
				fs := submitN(t, p, 4, blk.job)
				synctest.Wait()
				s := p.Stats()
				require.Equal(t, 4, s.Workers, "burst: %+v", s)
				require.Equal(t, 4, s.Busy, "burst: %+v", s)
				// The first job to finish drops the limit to 1, so the
				// queue's order shows.
				var mu sync.Mutex
				var order []int
				for i, prio := range []int{2, 4, 1, 3} {
					f, err := p.Submit(WithPriority(context.Background(), prio), func(context.Context) (int, error) {
						mu.Lock()
						order = append(order, i+1)
						mu.Unlock()
						return i, nil
					})
					require.NoError(t, err)
					fs = append(fs, f)
				}
				close(blk.release)
				waitAll(t, fs)
				assert.Equal(t, tt.want, order, "start order")
				// And idle workers retire down to min.
				time.Sleep(2 * time.Second)
				synctest.Wait()
				assert.Zero(t, p.Stats().Workers, "after idling")
				require.NoError(t, p.Close(context.Background()))
			})
		})
	}
}

// lifo is a test queue discipline, last in first out, to show that the
// adaptive policy is independent of the queue it serves.
type lifo[T any] struct{ jobs []*task[T] }

func (q *lifo[T]) push(f *task[T]) { q.jobs = append(q.jobs, f) }
func (q *lifo[T]) pop() *task[T] {
	if len(q.jobs) == 0 {
		return nil
	}
	f := q.jobs[len(q.jobs)-1]
	q.jobs = q.jobs[:len(q.jobs)-1]
	return f
}
func (q *lifo[T]) remove(f *task[T]) bool {
	for i, g := range q.jobs {
		if g == f {
			q.jobs = append(q.jobs[:i], q.jobs[i+1:]...)
			return true
		}
	}
	return false
}
func (q *lifo[T]) len() int                   { return len(q.jobs) }
func (q *lifo[T]) evictFor(*task[T]) *task[T] { return nil }
func (q *lifo[T]) stamp() int64               { return 0 }
