package crew_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/crew-go/crew"
)

// TestNoWatcherGoroutineAfterClose pins a goroutine that outlived Close: a
// queued job's ctx ends just as Close gives up on it, so its ctx watcher has
// fired and waits for the pool's lock while Close returns. Close must wait
// for it (guarantee 2). The window is narrow: this is a stress test that
// finds the bug now and then (about once in a few thousand rounds), not on
// every run.
func TestNoWatcherGoroutineAfterClose(t *testing.T) {
	buf := make([]byte, 1<<20)
	for i := range 2000 {
		p := crew.NewPool[int](1, crew.WithQueueSize(4))
		b := occupy(t, p)
		ctx, cancel := context.WithCancel(context.Background())
		f, err := p.Submit(ctx, value(1))
		if err != nil {
			t.Fatal(err)
		}
		dead, kill := context.WithCancel(context.Background())
		kill()
		go cancel()
		p.Close(dead) // gives up on the queued job while its ctx ends
		if _, ok := f.Result(); !ok {
			t.Fatal("a Future unresolved after Close returned")
		}
		n := runtime.Stack(buf, true)
		if g := blockedIn(string(buf[:n]), "dropCanceled"); g != "" {
			t.Fatalf("iteration %d: a ctx watcher of the pool outlived Close:\n%s", i, g)
		}
		close(b.release)
	}
}

// blockedIn returns a goroutine stack (from runtime.Stack(all)) that is in
// fn and waiting for a mutex: work of the pool not done yet.
func blockedIn(stacks, fn string) string {
	for _, g := range strings.Split(stacks, "\n\n") {
		if strings.Contains(g, fn) && strings.Contains(g, "Mutex).Lock") {
			return g
		}
	}
	return ""
}

// TestBatcherNoCallbackGoroutineAfterClose: when Close returns, no ctx
// watcher (leave) and no timer callback (onTimer) of the Batcher is still
// waiting to run. A watcher that fires as its item is cut, or a timer that
// fires as the Batcher drains, must be waited for. Like
// TestNoWatcherGoroutineAfterClose, a stress test: it catches a regression
// only now and then, and never fails without one.
func TestBatcherNoCallbackGoroutineAfterClose(t *testing.T) {
	fn := func(_ context.Context, items []int) ([]int, error) { return items, nil }
	buf := make([]byte, 1<<20)
	for i := range 2000 {
		b := crew.NewBatcher(fn, crew.WithBatchSize(1+i%2), crew.WithBatchWait(time.Duration(i%3)*time.Microsecond))
		ctx, cancel := context.WithCancel(context.Background())
		f, err := b.Submit(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		go cancel()
		if i%4 == 0 {
			dead, kill := context.WithCancel(context.Background())
			kill()
			b.Close(dead) // gives up on the pending item while its ctx ends
		} else {
			b.Close(context.Background())
		}
		if _, ok := f.Result(); !ok {
			t.Fatal("a Future unresolved after Close returned")
		}
		n := runtime.Stack(buf, true)
		for _, fn := range []string{").leave(", ").onTimer("} {
			if g := blockedIn(string(buf[:n]), fn); g != "" {
				t.Fatalf("iteration %d: a callback of the Batcher outlived Close:\n%s", i, g)
			}
		}
	}
}
