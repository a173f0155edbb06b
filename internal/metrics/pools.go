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

// CacheStats is a snapshot of the entity cache's counters (see
// internal/cache), without importing it here.
type CacheStats struct {
	// Cumulative since the server started.
	Hits, Misses, Skipped, Errors, Fills, Invalidations, DroppedFills int64
	Pending                                                           int64 // invalidations waiting for Redis to come back
	Open                                                              bool  // the breaker is open: Redis is skipped
}

var (
	gauge   = prometheus.GaugeValue
	counter = prometheus.CounterValue
)

var dbPoolSeries = []series[DBPoolStats]{
	{"acquired_connections", gauge, "PostgreSQL connections in use now.", func(s DBPoolStats) float64 { return float64(s.Acquired) }},
	{"idle_connections", gauge, "PostgreSQL connections idle in the pool.", func(s DBPoolStats) float64 { return float64(s.Idle) }},
	{"constructing_connections", gauge, "PostgreSQL connections being opened.", func(s DBPoolStats) float64 { return float64(s.Constructing) }},
	{"total_connections", gauge, "PostgreSQL connections open (acquired, idle and constructing).", func(s DBPoolStats) float64 { return float64(s.Total) }},
	{"max_connections", gauge, "The pool's size (SHIPGRAPH_DB_MAX_CONNS).", func(s DBPoolStats) float64 { return float64(s.Max) }},
	{"acquires_total", counter, "Connections taken from the pool.", func(s DBPoolStats) float64 { return float64(s.Acquires) }},
	{"empty_acquires_total", counter, "Acquires that had to wait or open a connection because none was idle: the pool is too small when this grows fast.", func(s DBPoolStats) float64 { return float64(s.EmptyAcquires) }},
	{"canceled_acquires_total", counter, "Acquires given up because their context ended.", func(s DBPoolStats) float64 { return float64(s.CanceledAcquires) }},
	{"new_connections_total", counter, "Connections opened.", func(s DBPoolStats) float64 { return float64(s.NewConns) }},
	{"acquire_wait_seconds_total", counter, "Time spent acquiring connections.", func(s DBPoolStats) float64 { return s.AcquireWait.Seconds() }},
}

var redisPoolSeries = []series[RedisPoolStats]{
	{"total_connections", gauge, "Redis connections open.", func(s RedisPoolStats) float64 { return float64(s.Total) }},
	{"idle_connections", gauge, "Redis connections idle in the pool.", func(s RedisPoolStats) float64 { return float64(s.Idle) }},
	{"hits_total", counter, "Commands that found an idle connection.", func(s RedisPoolStats) float64 { return float64(s.Hits) }},
	{"misses_total", counter, "Commands that had to open a connection.", func(s RedisPoolStats) float64 { return float64(s.Misses) }},
	{"timeouts_total", counter, "Commands that gave up waiting for a connection.", func(s RedisPoolStats) float64 { return float64(s.Timeouts) }},
	{"stale_connections_total", counter, "Connections dropped as stale.", func(s RedisPoolStats) float64 { return float64(s.Stale) }},
}

var cacheSeries = []series[CacheStats]{
	{"hits_total", counter, "Entities found in the cache.", func(s CacheStats) float64 { return float64(s.Hits) }},
	{"misses_total", counter, "Entities asked of the cache and not found (read from PostgreSQL).", func(s CacheStats) float64 { return float64(s.Misses) }},
	{"skipped_total", counter, "Entities not asked of the cache because its breaker was open (Redis failing).", func(s CacheStats) float64 { return float64(s.Skipped) }},
	{"errors_total", counter, "Cache commands that failed (timeouts, refused connections).", func(s CacheStats) float64 { return float64(s.Errors) }},
	{"fills_total", counter, "Entities written back to the cache.", func(s CacheStats) float64 { return float64(s.Fills) }},
	{"dropped_fills_total", counter, "Write-backs skipped because too many were in flight.", func(s CacheStats) float64 { return float64(s.DroppedFills) }},
	{"invalidations_total", counter, "Entity keys invalidated after a committed change.", func(s CacheStats) float64 { return float64(s.Invalidations) }},
	{"pending_invalidations", gauge, "Invalidations waiting for Redis to answer again; the cache is not read until they are applied.", func(s CacheStats) float64 { return float64(s.Pending) }},
	{"breaker_open", gauge, "1 while Redis is skipped after failures, 0 otherwise.", func(s CacheStats) float64 {
		if s.Open {
			return 1
		}
		return 0
	}},
}

// CollectDBPool reports stats, read at every scrape, as shipgraph_db_pool_*.
func (m *Metrics) CollectDBPool(stats func() DBPoolStats) {
	m.reg.MustRegister(newSnapshotCollector("db_pool", stats, dbPoolSeries))
}

// CollectRedisPool reports stats, read at every scrape, as
// shipgraph_redis_pool_*.
func (m *Metrics) CollectRedisPool(stats func() RedisPoolStats) {
	m.reg.MustRegister(newSnapshotCollector("redis_pool", stats, redisPoolSeries))
}

// CollectCacheRedisPool reports the entity cache's own Redis pool (short
// timeouts, no retries: see internal/redis) as shipgraph_cache_redis_pool_*.
func (m *Metrics) CollectCacheRedisPool(stats func() RedisPoolStats) {
	m.reg.MustRegister(newSnapshotCollector("cache_redis_pool", stats, redisPoolSeries))
}

// CollectCache reports stats, read at every scrape, as shipgraph_cache_*.
func (m *Metrics) CollectCache(stats func() CacheStats) {
	m.reg.MustRegister(newSnapshotCollector("cache", stats, cacheSeries))
}

// series is one metric read off a snapshot S.
type series[S any] struct {
	name  string
	kind  prometheus.ValueType
	help  string
	value func(S) float64
}

// snapshotCollector reads a snapshot once per scrape and reports its
// series as constant metrics: the pools and the cache keep their own
// counters, so mirroring them in prometheus counters between scrapes would
// only lag.
type snapshotCollector[S any] struct {
	read   func() S
	series []series[S]
	descs  []*prometheus.Desc
}

func newSnapshotCollector[S any](subsystem string, read func() S, series []series[S]) *snapshotCollector[S] {
	c := &snapshotCollector[S]{read: read, series: series}
	for _, s := range series {
		c.descs = append(c.descs, prometheus.NewDesc(prometheus.BuildFQName("shipgraph", subsystem, s.name), s.help, nil, nil))
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *snapshotCollector[S]) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *snapshotCollector[S]) Collect(ch chan<- prometheus.Metric) {
	snap := c.read()
	for i, s := range c.series {
		ch <- prometheus.MustNewConstMetric(c.descs[i], s.kind, s.value(snap))
	}
}
