package crewredis

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// breakerScript is every change of a shared breaker's state, as one
// compare-and-set on its generation. The state lives in a hash at KEYS[1]:
// g (generation, +1 on every change), s (0 closed, 1 open, 2 half-open),
// u (open: until when, µs of Redis TIME), p (half-open: probe slots
// taken), k (half-open: successful probes), r (half-open: when the round
// fails if undecided). KEYS[2] is a sorted set of quorum votes; ARGV[1] is the channel that hears of
// every change. All keys share the hash tag {name}, so they live in one
// Redis Cluster slot.
//
// ARGV[2] is the operation and ARGV[3] the generation the caller acts in;
// the rest are the same for every operation: ARGV[4] ResetTimeout (µs),
// ARGV[5] HalfOpenMaxRequests, ARGV[6] ProbeTimeout (µs), ARGV[7] the
// quorum, ARGV[8] its window (µs), ARGV[9] this replica's vote.
//
//	sync     read (after the lazy changes below)
//	trip     a failure verdict: opens a closed or half-open circuit of
//	         generation gen; closed with a quorum > 1, only once that many
//	         replicas voted within the window
//	probe    takes a half-open probe slot of generation gen
//	done     a successful probe; HalfOpenMaxRequests of them close it
//	release  gives back a slot whose probe ended undecided
//
// Lazy changes, made first by every operation: open past u becomes
// half-open; half-open past r (probes taken, round undecided) opens
// again. Returns {granted, g, s, wait}: wait is the µs left open.
const breakerScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local h = redis.call('HMGET', KEYS[1], 'g', 's', 'u', 'p', 'k', 'r')
local g = tonumber(h[1] or '0') or 0
local s = tonumber(h[2] or '0') or 0
local u = tonumber(h[3] or '0') or 0
local p = tonumber(h[4] or '0') or 0
local k = tonumber(h[5] or '0') or 0
local r = tonumber(h[6] or '0') or 0
local changed = false
local function set(state)
  g = g + 1; s = state; p = 0; k = 0; r = 0; changed = true
end
local op = ARGV[2]
local gen = tonumber(ARGV[3] or '-1')
if s == 1 and now >= u then set(2) end
local reset = tonumber(ARGV[4])
local maxp = tonumber(ARGV[5])
if s == 2 and r > 0 and now >= r then
  set(1); u = r + reset
  if now >= u then set(2) end
end
local granted = 0
if op == 'trip' and g == gen and s ~= 1 then
  local votes = 1
  local quorum = tonumber(ARGV[7])
  if s == 0 and quorum > 1 then
    local window = tonumber(ARGV[8])
    redis.call('ZADD', KEYS[2], now, ARGV[9])
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
    redis.call('PEXPIRE', KEYS[2], math.floor(window / 1000) + 1)
    votes = redis.call('ZCARD', KEYS[2])
  else
    quorum = 1
  end
  if votes >= quorum then
    set(1); u = now + reset; redis.call('DEL', KEYS[2]); granted = 1
  end
elseif op == 'probe' and g == gen and s == 2 and p < maxp then
  p = p + 1; granted = 1; changed = true
  if p == 1 then r = now + tonumber(ARGV[6]) end
elseif op == 'done' and g == gen and s == 2 then
  k = k + 1; changed = true
  if k >= maxp then set(0) end
elseif op == 'release' and g == gen and s == 2 and p > k then
  p = p - 1; changed = true
  if p == k then r = 0 end
end
if changed then
  redis.call('HSET', KEYS[1], 'g', g, 's', s, 'u', string.format('%.0f', u), 'p', p, 'k', k, 'r', string.format('%.0f', r))
  redis.call('PUBLISH', ARGV[1], g)
end
local wait = 0
if s == 1 then wait = u - now end
return {granted, g, s, wait}
`

var breakerLua = redis.NewScript(breakerScript)

// remoteState is the shared breaker's state as a script returned it.
type remoteState struct {
	granted bool  // the operation did what it asked (a slot, a trip)
	gen     int64 // the shared generation
	state   int64 // 0 closed, 1 open, 2 half-open
	waitUS  int64 // open: µs left
}

// runBreakerScript runs one operation of breakerScript.
func runBreakerScript(ctx context.Context, c redis.UniversalClient, keys []string, channel, op string, args ...any) (remoteState, error) {
	argv := append([]any{channel, op}, args...)
	v, err := breakerLua.Run(ctx, c, keys, argv...).Int64Slice()
	if err != nil {
		return remoteState{}, err
	}
	if len(v) != 4 || v[2] < 0 || v[2] > 2 {
		return remoteState{}, fmt.Errorf("crewredis: unexpected breaker reply %v", v)
	}
	return remoteState{granted: v[0] == 1, gen: v[1], state: v[2], waitUS: max(v[3], 0)}, nil
}
