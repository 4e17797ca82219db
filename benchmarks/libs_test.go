package benchmarks

import (
	"context"
	"sync"
	"time"

	"github.com/alitto/pond/v2"
	"github.com/crew-go/crew"
	"github.com/gammazero/workerpool"
	"github.com/panjf2000/ants/v2"
	"github.com/sourcegraph/conc/pool"
	"golang.org/x/sync/errgroup"
)

// runner is one library's pool running one prebuilt task. Submit is safe for
// concurrent use; Close releases every goroutine the pool started and returns
// once they are gone. The task is built once per workload, so no adapter
// allocates per Submit beyond what the library itself does.
type runner interface {
	Submit() error
	Close() error
}

// lib builds a runner of the given number of workers for task.
type lib struct {
	name string
	new  func(workers int, task func()) runner
}

// libs are the contenders of the fire-and-forget workloads, crew first, the
// naive baselines last.
var libs = []lib{
	{"crew", newCrew},
	{"ants", newAnts},
	{"pond", newPond},
	{"workerpool", newWorkerpool},
	{"conc", newConc},
	{"errgroup", newErrgroup},
	{"goroutines", newGoroutines},
	{"channel", newChannel},
}

// crew: NewPool[struct{}], fire and forget with Go (no Future).
type crewRunner struct {
	p   *crew.WorkerPool[struct{}]
	job crew.Job[struct{}]
}

func newCrew(workers int, task func()) runner {
	return &crewRunner{
		p:   crew.NewPool[struct{}](workers),
		job: func(context.Context) (struct{}, error) { task(); return struct{}{}, nil },
	}
}

func (r *crewRunner) Submit() error {
	return r.p.Go(context.Background(), r.job)
}

func (r *crewRunner) Close() error { return r.p.Close(context.Background()) }

// ants: a fixed pool, blocking Submit (the default).
type antsRunner struct {
	p    *ants.Pool
	task func()
}

func newAnts(workers int, task func()) runner {
	p, err := ants.NewPool(workers)
	if err != nil {
		panic(err)
	}
	return &antsRunner{p: p, task: task}
}

func (r *antsRunner) Submit() error { return r.p.Submit(r.task) }
func (r *antsRunner) Close() error  { return r.p.ReleaseTimeout(timeoutRelease) }

// timeoutRelease bounds the wait for ants to release its workers.
const timeoutRelease = time.Minute

// pond: v2 Pool.Go (no task handle, the cheapest submit), unbounded queue.
type pondRunner struct {
	p    pond.Pool
	task func()
}

func newPond(workers int, task func()) runner {
	return &pondRunner{p: pond.NewPool(workers), task: task}
}

func (r *pondRunner) Submit() error { return r.p.Go(r.task) }
func (r *pondRunner) Close() error  { r.p.StopAndWait(); return nil }

// workerpool: gammazero/workerpool, unbounded queue.
type workerpoolRunner struct {
	p    *workerpool.WorkerPool
	task func()
}

func newWorkerpool(workers int, task func()) runner {
	return &workerpoolRunner{p: workerpool.New(workers), task: task}
}

func (r *workerpoolRunner) Submit() error { r.p.Submit(r.task); return nil }
func (r *workerpoolRunner) Close() error  { r.p.StopWait(); return nil }

// conc: sourcegraph/conc pool.WithMaxGoroutines; Go blocks when all are busy.
type concRunner struct {
	p    *pool.Pool
	task func()
}

func newConc(workers int, task func()) runner {
	return &concRunner{p: pool.New().WithMaxGoroutines(workers), task: task}
}

func (r *concRunner) Submit() error { r.p.Go(r.task); return nil }
func (r *concRunner) Close() error  { r.p.Wait(); return nil }

// errgroup: golang.org/x/sync/errgroup with SetLimit, one goroutine per task.
type errgroupRunner struct {
	g    errgroup.Group
	task func() error
}

func newErrgroup(workers int, task func()) runner {
	r := &errgroupRunner{task: func() error { task(); return nil }}
	r.g.SetLimit(workers)
	return r
}

func (r *errgroupRunner) Submit() error { r.g.Go(r.task); return nil }
func (r *errgroupRunner) Close() error  { return r.g.Wait() }

// goroutines: the naive baseline, one unbounded goroutine per task and a
// WaitGroup (the workers argument is ignored).
type goroutinesRunner struct {
	wg   sync.WaitGroup
	task func()
}

func newGoroutines(_ int, task func()) runner { return &goroutinesRunner{task: task} }

func (r *goroutinesRunner) Submit() error { r.wg.Go(r.task); return nil }
func (r *goroutinesRunner) Close() error  { r.wg.Wait(); return nil }

// channel: the naive pool, a buffered channel drained by workers goroutines.
type channelRunner struct {
	ch   chan func()
	wg   sync.WaitGroup
	task func()
}

// channelBuffer is the naive pool's channel capacity.
const channelBuffer = 1024

func newChannel(workers int, task func()) runner {
	r := &channelRunner{ch: make(chan func(), channelBuffer), task: task}
	for range workers {
		r.wg.Go(func() {
			for f := range r.ch {
				f()
			}
		})
	}
	return r
}

func (r *channelRunner) Submit() error { r.ch <- r.task; return nil }

// Close is called once, after the last Submit.
func (r *channelRunner) Close() error {
	close(r.ch)
	r.wg.Wait()
	return nil
}
