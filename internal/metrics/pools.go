package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DBPoolStats is a snapshot of the PostgreSQL connection pool (pgxpool's
// Stat, without importing pgx here).
type DBPoolStats struct {
	Acquired, Idle, Constructing, Total, Max int32
	// Cumulative since the pool opened.
	Acquires, EmptyAcquires, CanceledAcquires, NewConns int64
	AcquireWait                                         time.Duration // total time spent acquiring
}

// RedisPoolStats is a snapshot of the Redis connection pool (go-redis'
// PoolStats).
type RedisPoolStats struct {
	Total, Idle uint32
	// Cumulative since the client opened.
	Hits, Misses, Timeouts, Stale uint32
}

// CollectDBPool reports stats, read at every scrape, as shipgraph_db_pool_*.
func (m *Metrics) CollectDBPool(stats func() DBPoolStats) {
	m.reg.MustRegister(newPoolCollector("db_pool", func(emit func(string, prometheus.ValueType, float64)) {
		s := stats()
		emit("acquired_connections", prometheus.GaugeValue, float64(s.Acquired))
		emit("idle_connections", prometheus.GaugeValue, float64(s.Idle))
		emit("constructing_connections", prometheus.GaugeValue, float64(s.Constructing))
		emit("total_connections", prometheus.GaugeValue, float64(s.Total))
		emit("max_connections", prometheus.GaugeValue, float64(s.Max))
		emit("acquires_total", prometheus.CounterValue, float64(s.Acquires))
		emit("empty_acquires_total", prometheus.CounterValue, float64(s.EmptyAcquires))
		emit("canceled_acquires_total", prometheus.CounterValue, float64(s.CanceledAcquires))
		emit("new_connections_total", prometheus.CounterValue, float64(s.NewConns))
		emit("acquire_wait_seconds_total", prometheus.CounterValue, s.AcquireWait.Seconds())
	}, poolHelp{
		"acquired_connections":       "PostgreSQL connections in use now.",
		"idle_connections":           "PostgreSQL connections idle in the pool.",
		"constructing_connections":   "PostgreSQL connections being opened.",
		"total_connections":          "PostgreSQL connections open (acquired, idle and constructing).",
		"max_connections":            "The pool's size (SHIPGRAPH_DB_MAX_CONNS).",
		"acquires_total":             "Connections taken from the pool.",
		"empty_acquires_total":       "Acquires that had to wait or open a connection because none was idle: the pool is too small when this grows fast.",
		"canceled_acquires_total":    "Acquires given up because their context ended.",
		"new_connections_total":      "Connections opened.",
		"acquire_wait_seconds_total": "Time spent acquiring connections.",
	}))
}

// CollectRedisPool reports stats, read at every scrape, as
// shipgraph_redis_pool_*.
func (m *Metrics) CollectRedisPool(stats func() RedisPoolStats) {
	m.collectRedisPool("redis_pool", stats)
}

// CollectCacheRedisPool reports the entity cache's own Redis pool (short
// timeouts, no retries: see internal/redis) as shipgraph_cache_redis_pool_*.
func (m *Metrics) CollectCacheRedisPool(stats func() RedisPoolStats) {
	m.collectRedisPool("cache_redis_pool", stats)
}

func (m *Metrics) collectRedisPool(subsystem string, stats func() RedisPoolStats) {
	m.reg.MustRegister(newPoolCollector(subsystem, func(emit func(string, prometheus.ValueType, float64)) {
		s := stats()
		emit("total_connections", prometheus.GaugeValue, float64(s.Total))
		emit("idle_connections", prometheus.GaugeValue, float64(s.Idle))
		emit("hits_total", prometheus.CounterValue, float64(s.Hits))
		emit("misses_total", prometheus.CounterValue, float64(s.Misses))
		emit("timeouts_total", prometheus.CounterValue, float64(s.Timeouts))
		emit("stale_connections_total", prometheus.CounterValue, float64(s.Stale))
	}, poolHelp{
		"total_connections":       "Redis connections open.",
		"idle_connections":        "Redis connections idle in the pool.",
		"hits_total":              "Commands that found an idle connection.",
		"misses_total":            "Commands that had to open a connection.",
		"timeouts_total":          "Commands that gave up waiting for a connection.",
		"stale_connections_total": "Connections dropped as stale.",
	}))
}

type poolHelp map[string]string

// poolCollector reads a pool's stats once per scrape and reports them as
// constant metrics: the pools keep their own counters, so mirroring them
// in prometheus counters between scrapes would only lag.
type poolCollector struct {
	descs   map[string]*prometheus.Desc
	collect func(emit func(string, prometheus.ValueType, float64))
}

func newPoolCollector(subsystem string, collect func(func(string, prometheus.ValueType, float64)), help poolHelp) *poolCollector {
	c := &poolCollector{descs: map[string]*prometheus.Desc{}, collect: collect}
	for name, h := range help {
		c.descs[name] = prometheus.NewDesc(prometheus.BuildFQName("shipgraph", subsystem, name), h, nil, nil)
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	c.collect(func(name string, t prometheus.ValueType, v float64) {
		ch <- prometheus.MustNewConstMetric(c.descs[name], t, v)
	})
}

// CacheStats is a snapshot of the entity cache's counters (see
// internal/cache), without importing it here.
type CacheStats struct {
	// Cumulative since the server started.
	Hits, Misses, Skipped, Errors, Fills, Invalidations, DroppedFills int64
	Pending                                                           int64 // invalidations waiting for Redis to come back
	Open                                                              bool  // the breaker is open: Redis is skipped
}

// CollectCache reports stats, read at every scrape, as shipgraph_cache_*.
func (m *Metrics) CollectCache(stats func() CacheStats) {
	m.reg.MustRegister(newPoolCollector("cache", func(emit func(string, prometheus.ValueType, float64)) {
		s := stats()
		emit("hits_total", prometheus.CounterValue, float64(s.Hits))
		emit("misses_total", prometheus.CounterValue, float64(s.Misses))
		emit("skipped_total", prometheus.CounterValue, float64(s.Skipped))
		emit("errors_total", prometheus.CounterValue, float64(s.Errors))
		emit("fills_total", prometheus.CounterValue, float64(s.Fills))
		emit("dropped_fills_total", prometheus.CounterValue, float64(s.DroppedFills))
		emit("invalidations_total", prometheus.CounterValue, float64(s.Invalidations))
		emit("pending_invalidations", prometheus.GaugeValue, float64(s.Pending))
		open := 0.0
		if s.Open {
			open = 1
		}
		emit("breaker_open", prometheus.GaugeValue, open)
	}, poolHelp{
		"hits_total":            "Entities found in the cache.",
		"misses_total":          "Entities asked of the cache and not found (read from PostgreSQL).",
		"skipped_total":         "Entities not asked of the cache because its breaker was open (Redis failing).",
		"errors_total":          "Cache commands that failed (timeouts, refused connections).",
		"fills_total":           "Entities written back to the cache.",
		"dropped_fills_total":   "Write-backs skipped because too many were in flight.",
		"invalidations_total":   "Entity keys invalidated after a committed change.",
		"pending_invalidations": "Invalidations waiting for Redis to answer again; the cache is not read until they are applied.",
		"breaker_open":          "1 while Redis is skipped after failures, 0 otherwise.",
	}))
}
