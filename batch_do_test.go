package crew_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

func TestBatcherDo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bad := errors.New("bad item")
		b := crew.NewBatcher(func(_ context.Context, in []int) ([]int, error) {
			errs := make(crew.ItemErrors, len(in))
			out := make([]int, len(in))
			for i, v := range in {
				if v < 0 {
					errs[i] = bad
				}
				out[i] = 2 * v
			}
			return out, errs
		}, crew.WithBatchWait(time.Millisecond))
		v, err := b.Do(context.Background(), 21)
		require.NoError(t, err)
		assert.Equal(t, 42, v)
		_, err = b.Do(context.Background(), -1)
		assert.ErrorIs(t, err, bad, "each caller its own error")

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err = b.Do(ctx, 1)
		assert.ErrorIs(t, err, context.Canceled)
		require.NoError(t, b.Close(context.Background()))
		_, err = b.Do(context.Background(), 1)
		assert.ErrorIs(t, err, crew.ErrClosed)
	})
}

// TestHandlerTakesAPoolOfAnyResultType: Handler and Middleware took only a
// Pool[struct{}]; a pool of any result type serves requests and other work.
func TestHandlerTakesAPoolOfAnyResultType(t *testing.T) {
	p := crew.NewPool[int](2)
	defer p.Close(context.Background())
	h := crew.Middleware(p)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, "ok", w.Body.String())
	v, err := crew.Do(context.Background(), p, value(3))
	require.NoError(t, err)
	assert.Equal(t, 3, v)
	assert.EqualValues(t, 2, p.Stats().Completed)
}
