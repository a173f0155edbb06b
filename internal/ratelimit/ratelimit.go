// Package ratelimit meters the cost of operations per caller and window.
//
// Every caller has a budget of points per fixed window (5,000 an hour by
// default, like GitHub's GraphQL API). An operation costs one point per
// hundred nodes it may return, at least one: the node count the limits
// package computes before execution. An operation that does not fit in
// what is left of the budget is refused with RATE_LIMITED before anything
// runs and costs nothing, so a smaller one may still pass.
//
// The counts live in a Counter: Redis when configured, so that every
// instance spends from the same budget, else this process's memory. When
// Redis fails the Limiter counts in memory for a while and says so in the
// log: a Redis outage degrades the limit to one budget per instance, it
// neither stops the API nor lets requests hang.
package ratelimit

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Config.
const (
	DefaultLimit  = 5000
	DefaultWindow = time.Hour
	// NodesPerPoint is how many nodes one point buys.
	NodesPerPoint = 100
)

// Status is a caller's budget in the current window, as reported to them.
type Status struct {
	Cost      int       // cost of the current operation
	Limit     int       // budget per window
	Remaining int       // budget left in the window
	ResetAt   time.Time // when the window resets
}

// Used is how many points the caller has spent in the window.
func (s Status) Used() int { return s.Limit - s.Remaining }

// Cost is the price in points of an operation that may return nodes
// nodes: one point per NodesPerPoint, rounded up, and at least one, so that
// even a cheap operation counts.
func Cost(nodes int64) int {
	points := (nodes + NodesPerPoint - 1) / NodesPerPoint
	if points < 1 {
		return 1
	}
	if points > 1<<31-1 {
		return 1<<31 - 1
	}
	return int(points)
}

// Counter keeps the points spent per key. Implementations must be safe for
// concurrent use and atomic per key: two instances taking at once must
// never both fit in the last point.
type Counter interface {
	// Take adds cost to the count of key unless the count would then
	// exceed limit. It returns the count afterwards (unchanged when it
	// refused) and whether it added. A key it creates expires after ttl.
	Take(ctx context.Context, key string, cost, limit int64, ttl time.Duration) (count int64, ok bool, err error)
}

// Config configures a Limiter.
type Config struct {
	Limit  int           // points per window; DefaultLimit when 0
	Window time.Duration // DefaultWindow when 0
	// Counter keeps the counts, shared by instances (Redis); nil counts in
	// this process only.
	Counter Counter
	// Logger reports a failing Counter.
	Logger *slog.Logger
}

// Limiter charges operations to callers' budgets.
type Limiter struct {
	limit    int
	window   time.Duration
	shared   Counter // nil when only local counts
	local    *Memory // the fallback, and the only counter without shared
	log      *slog.Logger
	now      func() time.Time
	retry    time.Duration // how long to count locally after shared failed
	downTill atomic.Int64  // unix nanoseconds until which shared is skipped
}

// sharedTimeout bounds one call to the shared counter, on top of the
// client's own timeouts: the budget check must never be what makes a
// request slow.
const sharedTimeout = 500 * time.Millisecond

// New returns a Limiter for cfg.
func New(cfg Config) *Limiter {
	if cfg.Limit <= 0 {
		cfg.Limit = DefaultLimit
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Limiter{
		limit:  cfg.Limit,
		window: cfg.Window,
		shared: cfg.Counter,
		local:  NewMemory(),
		log:    cfg.Logger,
		now:    time.Now,
		retry:  5 * time.Second,
	}
}

// Charge spends cost points of caller's budget in the current window. It
// returns the caller's status after the charge and whether the charge fit;
// when it did not, nothing was spent.
func (l *Limiter) Charge(ctx context.Context, caller string, cost int) (Status, bool) {
	now := l.now()
	start := now.Truncate(l.window)
	reset := start.Add(l.window)
	// The window is part of the key, so a new window is a new count on
	// every instance at once; the expiry only reclaims memory. The minute
	// of slack covers instances whose clocks are slightly behind.
	key := caller + ":" + strconv.FormatInt(start.Unix(), 10)
	count, ok := l.take(ctx, key, int64(cost), reset.Sub(now)+time.Minute)
	remaining := max(l.limit-int(count), 0)
	return Status{Cost: cost, Limit: l.limit, Remaining: remaining, ResetAt: reset}, ok
}

// take asks the shared counter, and the local one while the shared one is
// failing.
func (l *Limiter) take(ctx context.Context, key string, cost int64, ttl time.Duration) (int64, bool) {
	if l.shared != nil && l.now().UnixNano() >= l.downTill.Load() {
		sctx, cancel := context.WithTimeout(ctx, sharedTimeout)
		count, ok, err := l.shared.Take(sctx, key, cost, int64(l.limit), ttl)
		cancel()
		if err == nil {
			return count, ok
		}
		if ctx.Err() == nil {
			// Not the client going away: the counter is failing. Count
			// locally for a while instead of paying its timeout on every
			// request; one log line per outage period.
			l.downTill.Store(l.now().Add(l.retry).UnixNano())
			l.log.WarnContext(ctx, "rate limit counter unavailable; counting in this process for now",
				"retry_in", l.retry, "error", err)
		}
	}
	count, ok, _ := l.local.Take(ctx, key, cost, int64(l.limit), ttl)
	return count, ok
}

// Memory is a Counter in this process's memory: the counter when there is
// no Redis, and the fallback while Redis fails.
type Memory struct {
	mu        sync.Mutex
	counts    map[string]memoryCount
	nextSweep time.Time
	now       func() time.Time
}

type memoryCount struct {
	n       int64
	expires time.Time
}

// NewMemory returns an empty Memory counter.
func NewMemory() *Memory {
	return &Memory{counts: map[string]memoryCount{}, now: time.Now}
}

// Take implements Counter.
func (m *Memory) Take(_ context.Context, key string, cost, limit int64, ttl time.Duration) (int64, bool, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.After(m.nextSweep) {
		// Expired keys are dropped once in a while, so memory follows the
		// callers of the current window, not of all time.
		for k, c := range m.counts {
			if !c.expires.After(now) {
				delete(m.counts, k)
			}
		}
		m.nextSweep = now.Add(time.Minute)
	}
	c, found := m.counts[key]
	if !found || !c.expires.After(now) {
		c = memoryCount{expires: now.Add(ttl)}
	}
	if c.n+cost > limit {
		return c.n, false, nil
	}
	c.n += cost
	m.counts[key] = c
	return c.n, true, nil
}
