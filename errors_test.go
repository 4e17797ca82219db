package crew_test

// Rejections explain themselves (guarantee 11): RejectedError matches its
// sentinel, names its guard and says when to retry, in words a person reads.

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/crew-go/crew"
)

func TestRejectedErrorRoundsItsText(t *testing.T) {
	tests := []struct {
		give time.Duration
		want string
	}{
		{give: 999, want: "1µs"},
		{give: 999998468 * time.Nanosecond, want: "1s"},
		{give: 333333334 * time.Nanosecond, want: "334ms"},
		{give: 90*time.Second + 1, want: "1m31s"},
		{give: time.Duration(math.MaxInt64), want: time.Duration(math.MaxInt64).String()},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			err := &crew.RejectedError{Guard: "g", RetryAfter: tt.give, Err: crew.ErrRateLimited}
			assert.Equal(t, "crew: rejected by g: crew: rate limited (retry after "+tt.want+")", err.Error())
		})
	}
}

func TestRejectedErrorExplainsItself(t *testing.T) {
	err := error(&crew.RejectedError{Guard: "ratelimit", RetryAfter: 1500, Err: crew.ErrRateLimited})
	require.ErrorIs(t, err, crew.ErrRateLimited)
	require.NotErrorIs(t, err, crew.ErrCircuitOpen)
	require.Equal(t, "crew: rejected by ratelimit: crew: rate limited (retry after 2µs)", err.Error(),
		"rounded up to what a person reads")
	var re *crew.RejectedError
	require.ErrorAs(t, fmtWrap(err), &re, "found through wrapping")
	require.Equal(t, "ratelimit", re.Guard)
}
