package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Cache timeouts. A cache only pays when it answers faster than PostgreSQL
// (about a millisecond for a batch by id): a Redis that takes longer is
// treated as down. Unlike the rate limit client's, these are not taken
// from the URL.
const (
	CacheDialTimeout = 100 * time.Millisecond
	CacheTimeout     = 50 * time.Millisecond // read, write and waiting for a pooled connection
)

// Breaker back-off: after a failure the cache is skipped for
// CacheBackoffMin, then tried again by one request; each failed try doubles
// the wait, up to CacheBackoffMax.
const (
	CacheBackoffMin = time.Second
	CacheBackoffMax = 30 * time.Second
)

// Deleted is the version of a deleted entity's tombstone: higher than any
// version a row can have (an integer column), so no fill replaces it.
const Deleted int64 = 1 << 31

// maxPending bounds the invalidations kept while Redis is unreachable;
// beyond it the whole cache is dropped when Redis comes back.
const maxPending = 10000

// CacheConfig configures NewCache.
type CacheConfig struct {
	// TTL is how long an entry (and a tombstone) lives.
	TTL time.Duration
	// BackoffMin and BackoffMax override CacheBackoffMin and
	// CacheBackoffMax (tests).
	BackoffMin, BackoffMax time.Duration
	// Timeout overrides CacheTimeout (tests on a loaded machine, whose
	// subject is not the timeout).
	Timeout time.Duration
	// Log hears when the cache stops using Redis and when it resumes;
	// nil for none.
	Log *slog.Logger
}

// CacheEntry is an entity to write back: its key, the version of the row
// it was read from, and its encoding.
type CacheEntry struct {
	Key     string
	Version int64
	Value   []byte
}

// CacheChange names an entity changed by a committed write and the version
// it has now (Deleted when it is gone).
type CacheChange struct {
	Key     string
	Version int64
}

// CacheStats counts what the cache did since it was created.
type CacheStats struct {
	Hits          int64 // keys found
	Misses        int64 // keys asked for and not found (tombstones included)
	Skipped       int64 // keys not asked for because the breaker was open
	Errors        int64 // commands that failed: timeouts, refused connections
	Fills         int64 // entries written back
	Invalidations int64 // keys invalidated in Redis
	Pending       int64 // invalidations waiting for Redis to come back
	Open          bool  // the breaker is open: Redis is skipped
}

// Cache keeps entities by id in Redis, in front of PostgreSQL.
//
// Every value carries the version of the row it was read from
// ("<version>:<payload>"), and a committed change leaves a tombstone
// naming the new version ("<version>:"). A write-back only lands if its
// version is newer than what the key holds (or equal, over a tombstone),
// so a reader that read a row before a change committed can never put it
// back after the change invalidated it, however late its write-back
// arrives: the race of read-through caches is closed by Redis itself, in
// one script per batch.
//
// A Redis that fails or is slow is skipped (see the breaker); changes made
// meanwhile are remembered and applied before the cache is read again.
type Cache struct {
	rdb    *goredis.Client
	prefix string
	ttl    time.Duration
	br     breaker
	log    *slog.Logger

	hits, misses, skipped, errs, fills, invalidations atomic.Int64
}

// PoolStats returns the stats of the cache's own connection pool.
func (c *Cache) PoolStats() *goredis.PoolStats { return c.rdb.PoolStats() }

// NewCache returns the entity cache kept in this Redis, on a client of its
// own with short timeouts and no retries. Close it when done.
func (c *Client) NewCache(cfg CacheConfig) *Cache {
	opt := *c.opt
	opt.ContextTimeoutEnabled = true
	opt.DialTimeout = CacheDialTimeout
	if cfg.Timeout <= 0 {
		cfg.Timeout = CacheTimeout
	}
	opt.ReadTimeout = cfg.Timeout
	opt.WriteTimeout = cfg.Timeout
	opt.PoolTimeout = cfg.Timeout
	// A cache read is never worth a second try: PostgreSQL answers.
	opt.DialerRetries = 1
	opt.MaxRetries = -1
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = CacheBackoffMin
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = CacheBackoffMax
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	rdb := goredis.NewClient(&opt)
	if c.tracing != nil {
		// Its MGETs are the Redis round trips of a cached read: a slow
		// request's trace must show them like the other commands.
		if err := instrumentTracing(rdb, c.tracing); err != nil {
			cfg.Log.Warn("entity cache: its Redis commands are not traced", "error", err)
		}
	}
	return &Cache{
		log:    cfg.Log,
		rdb:    rdb,
		prefix: c.prefix + "cache:",
		ttl:    cfg.TTL,
		br:     breaker{min: cfg.BackoffMin, max: cfg.BackoffMax, pending: map[string]int64{}},
	}
}

// Close closes the cache's connections.
func (c *Cache) Close() error { return c.rdb.Close() }

// Stats returns the cache's counters.
func (c *Cache) Stats() CacheStats {
	c.br.mu.Lock()
	pending, open := int64(len(c.br.pending)), c.br.open.Load()
	if c.br.flushAll {
		pending = maxPending
	}
	c.br.mu.Unlock()
	return CacheStats{
		Hits: c.hits.Load(), Misses: c.misses.Load(), Skipped: c.skipped.Load(), Errors: c.errs.Load(),
		Fills: c.fills.Load(), Invalidations: c.invalidations.Load(), Pending: pending, Open: open,
	}
}

// Get returns the payload of each key, nil where it is not cached; all nil
// when Redis is skipped or fails. One MGET for the whole batch.
func (c *Cache) Get(ctx context.Context, keys []string) [][]byte {
	out := make([][]byte, len(keys))
	if len(keys) == 0 {
		return out
	}
	if !c.usable(ctx) {
		c.skipped.Add(int64(len(keys)))
		return out
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = c.prefix + k
	}
	vals, err := c.rdb.MGet(ctx, full...).Result()
	if err != nil {
		c.failed(ctx, err)
		c.skipped.Add(int64(len(keys)))
		return out
	}
	var hits int64
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue
		}
		colon := strings.IndexByte(s, ':')
		if colon < 0 || colon == len(s)-1 {
			continue // a tombstone, or not ours
		}
		out[i] = []byte(s[colon+1:])
		hits++
	}
	c.hits.Add(hits)
	c.misses.Add(int64(len(keys)) - hits)
	return out
}

// fillScript writes back ARGV[2i+1] (version ARGV[2i]) to KEYS[i] unless
// the key holds that version or a newer one, or a tombstone newer than it,
// with a TTL of ARGV[1] milliseconds. It returns how many it wrote.
var fillScript = goredis.NewScript(`
local n = 0
for i, key in ipairs(KEYS) do
  local ver = tonumber(ARGV[2*i])
  local cur = redis.call('GET', key)
  local write = true
  if cur then
    local cv = string.match(cur, '^(%d+):')
    if cv then
      if #cur == #cv + 1 then
        write = ver >= tonumber(cv)
      else
        write = ver > tonumber(cv)
      end
    end
  end
  if write then
    redis.call('SET', key, ARGV[2*i+1], 'PX', ARGV[1])
    n = n + 1
  end
end
return n
`)

// Fill writes entries back, each only if nothing newer is there (see
// Cache). One script call for the batch.
func (c *Cache) Fill(ctx context.Context, entries []CacheEntry) error {
	if len(entries) == 0 || !c.usable(ctx) {
		return nil
	}
	keys := make([]string, len(entries))
	args := make([]any, 1, 1+2*len(entries))
	args[0] = c.ttl.Milliseconds()
	for i, e := range entries {
		keys[i] = c.prefix + e.Key
		v := make([]byte, 0, len(e.Value)+12)
		v = strconv.AppendInt(v, e.Version, 10)
		v = append(v, ':')
		v = append(v, e.Value...)
		args = append(args, e.Version, v)
	}
	n, err := fillScript.Run(ctx, c.rdb, keys, args...).Int64()
	if err != nil {
		c.failed(ctx, err)
		return fmt.Errorf("redis: cache fill: %w", err)
	}
	c.fills.Add(n)
	return nil
}

// invalidateScript leaves a tombstone of version ARGV[i+1] at KEYS[i],
// with a TTL of ARGV[1] milliseconds, unless the key holds that version or
// a newer one (a reader already cached the change, or a later change is
// there first).
var invalidateScript = goredis.NewScript(`
for i, key in ipairs(KEYS) do
  local ver = tonumber(ARGV[i+1])
  local cur = redis.call('GET', key)
  local write = true
  if cur then
    local cv = string.match(cur, '^(%d+):')
    if cv then
      write = tonumber(cv) < ver
    end
  end
  if write then
    redis.call('SET', key, ARGV[i+1] .. ':', 'PX', ARGV[1])
  end
end
return 0
`)

// Invalidate records committed changes. When Redis cannot be reached the
// changes are kept, and applied before the cache is read again; the error
// is only for the caller's logs.
func (c *Cache) Invalidate(ctx context.Context, changes []CacheChange) error {
	if len(changes) == 0 {
		return nil
	}
	c.br.mu.Lock()
	if c.br.open.Load() {
		c.br.addPending(c.prefix, changes)
		c.br.mu.Unlock()
		return nil
	}
	c.br.mu.Unlock()
	// The change has committed: the caller giving up must not leave it
	// half-invalidated. The client's timeouts still bound the wait.
	err := c.invalidate(context.WithoutCancel(ctx), changes)
	if err != nil {
		c.errs.Add(1)
		c.br.mu.Lock()
		c.br.addPending(c.prefix, changes)
		// Open, so the kept changes are applied before anyone reads again.
		opened := c.br.trip(false)
		c.br.mu.Unlock()
		if opened {
			c.log.WarnContext(ctx, "entity cache: Redis failed; reading from PostgreSQL only for now", "retry_in", c.br.backoffNow(), "error", err)
		}
		return fmt.Errorf("redis: cache invalidate: %w", err)
	}
	return nil
}

// invalidateChunk bounds one script call, so that deleting a feature with
// thousands of events does not hold Redis (single-threaded) for long.
const invalidateChunk = 500

func (c *Cache) invalidate(ctx context.Context, changes []CacheChange) error {
	for len(changes) > 0 {
		chunk := changes[:min(len(changes), invalidateChunk)]
		changes = changes[len(chunk):]
		keys := make([]string, len(chunk))
		args := make([]any, 1, 1+len(chunk))
		args[0] = c.ttl.Milliseconds()
		for i, ch := range chunk {
			keys[i] = c.prefix + ch.Key
			args = append(args, ch.Version)
		}
		if err := invalidateScript.Run(ctx, c.rdb, keys, args...).Err(); err != nil && !errors.Is(err, goredis.Nil) {
			return err
		}
		c.invalidations.Add(int64(len(chunk)))
	}
	return nil
}

// failed trips the breaker, unless the caller gave up (its context ended):
// that says nothing about Redis.
func (c *Cache) failed(ctx context.Context, err error) {
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return
	}
	c.errs.Add(1)
	c.br.mu.Lock()
	opened := c.br.trip(false)
	c.br.mu.Unlock()
	if opened {
		c.log.WarnContext(ctx, "entity cache: Redis failed; reading from PostgreSQL only for now", "retry_in", c.br.backoffNow(), "error", err)
	}
}

// usable reports whether Redis may be used now. When the breaker is open
// and its back-off has passed, this caller tries Redis again: it applies
// the invalidations kept meanwhile, and only if they all land does the
// cache close again; others skip Redis while it tries.
func (c *Cache) usable(ctx context.Context) bool {
	if !c.br.open.Load() {
		return true
	}
	b := &c.br
	b.mu.Lock()
	if !b.open.Load() {
		b.mu.Unlock()
		return true
	}
	if b.probing || time.Now().Before(b.until) {
		b.mu.Unlock()
		return false
	}
	b.probing = true
	for {
		pending, flushAll := b.pending, b.flushAll
		if len(pending) == 0 && !flushAll {
			// Nothing left to apply: close, under the lock that
			// Invalidate takes, so no change slips in unapplied.
			b.probing = false
			b.open.Store(false)
			b.closedAt = time.Now()
			b.mu.Unlock()
			c.log.InfoContext(ctx, "entity cache: Redis answers again; cache resumed")
			return true
		}
		b.pending, b.flushAll = map[string]int64{}, false
		b.mu.Unlock()
		err := c.recover(ctx, pending, flushAll)
		b.mu.Lock()
		if err != nil {
			for k, v := range pending {
				b.pending[k] = max(b.pending[k], v)
			}
			b.flushAll = b.flushAll || flushAll || len(b.pending) > maxPending
			if b.flushAll {
				b.pending = map[string]int64{}
			}
			b.probing = false
			if ctx.Err() == nil {
				c.errs.Add(1)
			}
			b.trip(true)
			b.mu.Unlock()
			return false
		}
	}
}

// recover applies the invalidations kept while Redis was unreachable (full
// keys → versions), or drops every cached entity when there were too many
// to keep.
func (c *Cache) recover(ctx context.Context, pending map[string]int64, flushAll bool) error {
	if flushAll {
		iter := c.rdb.Scan(ctx, 0, c.prefix+"*", 1000).Iterator()
		var batch []string
		for iter.Next(ctx) {
			batch = append(batch, iter.Val())
			if len(batch) == 1000 {
				if err := c.rdb.Unlink(ctx, batch...).Err(); err != nil {
					return err
				}
				batch = batch[:0]
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		if len(batch) > 0 {
			return c.rdb.Unlink(ctx, batch...).Err()
		}
		return nil
	}
	changes := make([]CacheChange, 0, len(pending))
	for k, v := range pending {
		changes = append(changes, CacheChange{Key: k[len(c.prefix):], Version: v})
	}
	return c.invalidate(ctx, changes)
}

// breaker stops a failing Redis from costing every request a timeout.
type breaker struct {
	min, max time.Duration

	open     atomic.Bool // read without the lock on every call
	mu       sync.Mutex
	until    time.Time // skip Redis until then
	backoff  time.Duration
	closedAt time.Time
	probing  bool
	// pending holds the changes that could not be applied (full key →
	// version); flushAll replaces it when it overflowed.
	pending  map[string]int64
	flushAll bool
}

// trip opens the breaker. The back-off doubles when a try failed, or when
// Redis fails again soon after the breaker closed (it answered the try,
// then not the next command); it starts over after a quiet spell.
// Failures of commands sent before the breaker opened change nothing: they
// are the same outage. Call with mu held.
func (b *breaker) trip(tryFailed bool) (opened bool) {
	now := time.Now()
	switch {
	case tryFailed:
		b.backoff = min(2*b.backoff, b.max)
	case b.open.Load():
		return false
	case b.backoff > 0 && now.Sub(b.closedAt) < b.backoff:
		b.backoff = min(2*b.backoff, b.max)
	default:
		b.backoff = b.min
	}
	b.until = now.Add(b.backoff)
	opened = !b.open.Load()
	b.open.Store(true)
	return opened
}

// backoffNow returns the current back-off.
func (b *breaker) backoffNow() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.backoff
}

// addPending keeps changes to apply later. Call with mu held.
func (b *breaker) addPending(prefix string, changes []CacheChange) {
	if b.flushAll {
		return
	}
	for _, ch := range changes {
		k := prefix + ch.Key
		b.pending[k] = max(b.pending[k], ch.Version)
	}
	if len(b.pending) > maxPending {
		b.pending, b.flushAll = map[string]int64{}, true
	}
}
