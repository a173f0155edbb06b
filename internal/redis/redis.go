// Package redis is the Redis adapter: a client set up so that a slow or
// absent Redis costs a request milliseconds rather than hanging it, and
// what instances share through it: the rate limit counter that lets every
// instance spend from one budget, the event bus, the entity cache and
// registered persisted queries.
package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"go.opentelemetry.io/otel/trace"
)

// Timeouts applied when the URL does not set its own (go-redis reads
// dial_timeout, read_timeout, … from the URL's query). go-redis's defaults
// are five seconds each, with five dial retries: far longer than a request
// should ever wait on a rate limit counter.
const (
	DialTimeout  = time.Second
	ReadTimeout  = 500 * time.Millisecond
	WriteTimeout = 500 * time.Millisecond
	PoolTimeout  = time.Second
)

// Config configures Open.
type Config struct {
	// URL is a redis:// or rediss:// URL (REDIS_URL).
	URL string
	// Prefix starts every key, so that several deployments (or test runs)
	// can share one Redis.
	Prefix string
}

// Client is a pool of connections to Redis.
type Client struct {
	rdb    *goredis.Client
	opt    *goredis.Options // what Open parsed, for clients with other timeouts (NewCache)
	prefix string
	// tracing, set by InstrumentTracing, traces the clients made from this
	// one afterwards (NewCache's) alike.
	tracing trace.TracerProvider
}

// Open returns a client for cfg. It does not connect: Redis may come up
// after the server, and the server works without it meanwhile (see Ping).
func Open(cfg Config) (*Client, error) {
	opt, err := goredis.ParseURL(cfg.URL)
	if err != nil {
		// The parse error can echo the URL, password included.
		return nil, fmt.Errorf("redis: REDIS_URL is not a valid redis:// URL")
	}
	// Deadlines of the caller's context count, not only the fixed ones.
	opt.ContextTimeoutEnabled = true
	setDefault(&opt.DialTimeout, DialTimeout)
	setDefault(&opt.ReadTimeout, ReadTimeout)
	setDefault(&opt.WriteTimeout, WriteTimeout)
	setDefault(&opt.PoolTimeout, PoolTimeout)
	// One dial attempt and no retry (go-redis makes five and three):
	// callers have a fallback and should use it rather than wait, and
	// retrying a command whose reply was lost could run a non-idempotent
	// script twice, charging a caller twice.
	if opt.DialerRetries == 0 {
		opt.DialerRetries = 1
	}
	if opt.MaxRetries == 0 {
		opt.MaxRetries = -1
	}
	// No CLIENT MAINT_NOTIFICATIONS handshake: a managed-cluster feature
	// that only adds a round trip to every new connection here.
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return &Client{rdb: goredis.NewClient(opt), opt: opt, prefix: cfg.Prefix}, nil
}

func setDefault(d *time.Duration, v time.Duration) {
	if *d == 0 {
		*d = v
	}
}

// Ping checks that Redis answers.
func (c *Client) Ping(ctx context.Context) error {
	return c.rdb.Ping(ctx).Err()
}

// PoolStats returns the connection pool's counters, for the metrics.
func (c *Client) PoolStats() *goredis.PoolStats { return c.rdb.PoolStats() }

// Close closes every connection.
func (c *Client) Close() error { return c.rdb.Close() }

// RateCounter returns the rate limit counter kept in this Redis.
func (c *Client) RateCounter() *RateCounter {
	return &RateCounter{c: c}
}

// RateCounter counts rate limit points in Redis, so that every instance
// spends from the same budget. It implements ratelimit.Counter.
type RateCounter struct {
	c *Client
}

// takeScript adds ARGV[1] to KEYS[1] unless the sum would exceed ARGV[2],
// and sets a new key's expiry to ARGV[3] milliseconds; it returns the
// count and 1 when it added, 0 when it refused. A script, because the
// check and the increment must be one step: with a separate GET and
// INCRBY two instances could both fit in the last points.
var takeScript = goredis.NewScript(`
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
local cost = tonumber(ARGV[1])
if count + cost > tonumber(ARGV[2]) then
  return {count, 0}
end
count = redis.call('INCRBY', KEYS[1], cost)
if count == cost then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return {count, 1}
`)

// Take implements ratelimit.Counter.
func (r *RateCounter) Take(ctx context.Context, key string, cost, limit int64, ttl time.Duration) (int64, bool, error) {
	res, err := takeScript.Run(ctx, r.c.rdb, []string{r.c.prefix + "ratelimit:" + key}, cost, limit, ttl.Milliseconds()).Int64Slice()
	if err != nil {
		return 0, false, fmt.Errorf("redis: rate limit: %w", err)
	}
	if len(res) != 2 {
		return 0, false, fmt.Errorf("redis: rate limit: unexpected reply %v", res)
	}
	return res[0], res[1] == 1, nil
}
