package crewredis

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/crew-go/crew"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRateLimiterSmoke(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTestRedis(t)
		l := NewRateLimiter(r.client(t), "k", 100, 5)
		defer l.Close()
		ctx := context.Background()
		start := time.Now()
		for range 50 {
			_, err := l.Admit(ctx)
			require.NoError(t, err)
			_, err = l.Start(ctx, 0)
			require.NoError(t, err)
			l.Done(0, nil, 0)
		}
		t.Log(time.Since(start), l.Stats())
		assert.Equal(t, crew.Ticket(0), crew.Ticket(0))
	})
}
