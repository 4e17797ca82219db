// Package crewredis holds crew guards shared by every replica of a service
// through Redis: a cluster-wide rate limit and a shared circuit breaker.
// Both are crew.Guards: put them in a crew.Chain like crew's own, limiter
// outermost.
//
// # Guarantees
//
// Guarantee 15 (cluster limit): over all replicas sharing a RateLimiter's
// key, the job starts in any window of length w are at most
// burst + limit*(w + E) + 1, E being the token lifetime (WithTokenLifetime,
// 100ms by default). No hot-path call (Admit, a Start with a token on hand,
// Done, Abandon, and every Breaker call while closed) waits on Redis or
// sends it anything; a background goroutine per guard does. With FailClosed
// (the default) the bound holds through a Redis outage; FailOpen and
// FailLocal trade it for availability while Redis is down.
//
// A Redis failover can cost one burst: a new primary that lost the
// limiter's key (asynchronous replication) or whose clock is ahead starts
// from a full bucket, so a window holding one failover may see burst more
// starts; a clock behind costs at most a burst's time without grants.
// During the failover itself Redis is down and the fail mode decides; the
// breakers decide locally.
//
// # Costs
//
// Admit+Start+Done with a token on hand is an atomic load, a clock reading
// and an atomic add, and allocates nothing; a closed Breaker's path is
// three atomic loads. A limiter sends one Lua script per lease, no more
// often than its refresh interval; a breaker runs one per trip, probe slot
// and probe result, plus one read per poll interval, and holds one pub/sub
// connection. Measured figures are in the module's README.
//
// # Redis clients
//
// Pass any redis.UniversalClient; keys are single and hash-tagged, so Redis
// Cluster works. go-redis's default timeouts (5s to dial, 3s to read) do
// not hold up a caller here, but they hold up Close and delay noticing an
// outage: ClientOptions returns options with short timeouts and
// ContextTimeoutEnabled.
package crewredis
