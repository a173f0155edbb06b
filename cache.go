package main

import (
	"log/slog"

	"github.com/shipgraph/shipgraph/internal/cache"
	"github.com/shipgraph/shipgraph/internal/postgres"
	"github.com/shipgraph/shipgraph/internal/redis"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// withCache puts the Redis entity cache in front of pg, unless there is no
// Redis or SHIPGRAPH_CACHE_TTL is 0. closeCache waits for the cache's
// write-backs in flight and closes its connections.
func withCache(pg *postgres.Store, rdb *redis.Client, cfg config, log *slog.Logger) (store shipgraph.Store, closeCache func()) {
	if rdb == nil || cfg.CacheTTL <= 0 {
		return pg, func() {}
	}
	rc := rdb.NewCache(redis.CacheConfig{TTL: cfg.CacheTTL, Log: log})
	cs := cache.New(pg, rc, log)
	log.Info("entity cache on", "ttl", cfg.CacheTTL)
	return cs, func() {
		cs.Close()
		rc.Close()
	}
}
