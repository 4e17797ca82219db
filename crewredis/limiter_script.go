package crewredis

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// leaseScript is the cluster-wide GCRA, run by Redis on the limiter's key.
// The key holds the theoretical arrival time (TAT) in microseconds of Redis
// TIME: the bucket is empty at TAT and full at TAT - burst*interval. A
// lease of k tokens is k admissions at the script's own moment, so the
// grants in any window w of Redis time are at most burst + w/interval, as
// for one local GCRA; which replica uses them, and when, is the caller's
// business (see RateLimiter).
//
// KEYS[1]: the key. ARGV: interval (µs a token, an integer >= 1), burst,
// want (>= 1). Returns {granted, wait}: wait is the µs until the bucket
// holds one token again (0 if it holds one now).
//
// TIME is read inside the script, so replicas' clocks never matter, and
// Redis 5 and later replicate the script's writes, not the script, so a
// non-deterministic read before a write is allowed. A TAT beyond a full
// burst ahead (Redis's clock stepped back, or a failover to a node whose
// clock is behind) is clamped, so such a step costs at most one burst's
// worth of time without grants. Numbers stay below 2^53, exact in Lua's
// doubles: NewRateLimiter bounds burst*interval.
const leaseScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local span = burst * interval
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat < now then tat = now end
if tat > now + span then tat = now + span end
local k = math.floor((now + span - tat) / interval)
if k > want then k = want end
if k > 0 then
  tat = tat + k * interval
  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.floor((tat - now) / 1000) + 1)
end
local wait = tat + interval - span - now
if wait < 0 then wait = 0 end
return {k, wait}
`

var leaseLua = redis.NewScript(leaseScript)

// leaseReply is what one lease request brought back.
type leaseReply struct {
	granted int64 // tokens leased
	waitUS  int64 // µs until the cluster bucket holds a token again
}

// requestLease runs leaseScript for want tokens.
func requestLease(ctx context.Context, c redis.UniversalClient, key string, interval int64, burst, want int) (leaseReply, error) {
	v, err := leaseLua.Run(ctx, c, []string{key}, interval, burst, want).Int64Slice()
	if err != nil {
		return leaseReply{}, err
	}
	if len(v) != 2 || v[0] < 0 || v[0] > int64(want) {
		return leaseReply{}, fmt.Errorf("crewredis: unexpected lease reply %v", v)
	}
	return leaseReply{granted: v[0], waitUS: max(v[1], 0)}, nil
}
