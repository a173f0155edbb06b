package main

import (
	"log/slog"

	"github.com/shipgraph/shipgraph/internal/cache"
	"github.com/shipgraph/shipgraph/internal/metrics"
	"github.com/shipgraph/shipgraph/internal/postgres"
	"github.com/shipgraph/shipgraph/internal/redis"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// withCache puts the Redis entity cache in front of pg, unless there is no
// Redis or SHIPGRAPH_CACHE_TTL is 0. closeCache waits for the cache's
// write-backs in flight and closes its connections.
// Its counters are exported as shipgraph_cache_* metrics.
func withCache(pg *postgres.Store, rdb *redis.Client, cfg config, log *slog.Logger, m *metrics.Metrics) (store shipgraph.Store, closeCache func()) {
	if rdb == nil || cfg.CacheTTL <= 0 {
		return pg, func() {}
	}
	rc := rdb.NewCache(redis.CacheConfig{TTL: cfg.CacheTTL, Log: log})
	cs := cache.New(pg, rc, log)
	m.CollectCacheRedisPool(redisPoolStats(rc))
	m.CollectCache(func() metrics.CacheStats {
		s := cs.Stats()
		return metrics.CacheStats{
			Hits: s.Hits, Misses: s.Misses, Skipped: s.Skipped, Errors: s.Errors, Fills: s.Fills,
			Invalidations: s.Invalidations, DroppedFills: s.DroppedFills, Pending: s.Pending, Open: s.Open,
		}
	})
	log.Info("entity cache on", "ttl", cfg.CacheTTL)
	return cs, func() {
		cs.Close()
		rc.Close()
	}
}
