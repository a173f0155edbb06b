// Package cache keeps entities by id in Redis in front of the store: a
// shipgraph.Store decorator whose by-id batch methods read through the
// cache (one MGET per batch, misses from the store in one call, written
// back in the background) and whose writes invalidate what they changed
// once the store has committed.
//
// Reads after a write never see the old value: the write's invalidation
// leaves a tombstone naming the new version, and write-backs carry the
// version of the row they were read from, so a write-back of an older row
// is refused by Redis whenever it arrives (see redis.Cache). What a
// failed invalidation could leave behind is applied before the cache is
// read again, by this instance.
package cache

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shipgraph/shipgraph/internal/redis"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// Inner is the store the cache decorates: a shipgraph.Store that can also
// say what deleting a feature deleted with it (internal/postgres.Store).
type Inner interface {
	shipgraph.Store
	DeleteFeatureCascade(ctx context.Context, id int64) (shipgraph.FeatureCascade, error)
}

// Key prefixes, one letter per kind: keys are repeated in every MGET.
// Entities are stored as the JSON of their struct: when a struct gains or
// changes a field, change these prefixes too, or entries cached by the
// previous release would decode with the new field at its zero value.
const (
	kindFeature    = "f:"
	kindTestCase   = "t:"
	kindBuild      = "b:"
	kindDeployment = "d:"
	kindEvent      = "e:"
)

// maxFillsInFlight bounds the background write-backs; beyond it a
// write-back is dropped (the next reader fills the entry instead) rather
// than queued without end when Redis is slow.
const maxFillsInFlight = 64

// fillTimeout bounds one background write-back; the Redis client's own
// timeouts are shorter, this only guards a stalled pool.
const fillTimeout = time.Second

// Store is a shipgraph.Store with a Redis cache of entities by id. The
// methods it does not define (lists, counts, creations) go straight to the
// inner store: lists and counts are not cached, and a new row has nothing
// to invalidate (absent rows are never cached).
type Store struct {
	Inner
	cache *redis.Cache
	log   *slog.Logger

	mu      sync.Mutex // guards closed against wg.Add
	closed  bool
	wg      sync.WaitGroup
	sem     chan struct{}
	dropped atomic.Int64
}

var _ shipgraph.Store = (*Store)(nil)

// New returns inner behind c. Close it to wait for its write-backs.
func New(inner Inner, c *redis.Cache, log *slog.Logger) *Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{Inner: inner, cache: c, log: log, sem: make(chan struct{}, maxFillsInFlight)}
}

// Stats are the cache's counters, for metrics.
type Stats struct {
	redis.CacheStats
	// DroppedFills counts write-backs skipped because too many were in
	// flight.
	DroppedFills int64
}

// Stats returns the cache's counters.
func (s *Store) Stats() Stats {
	return Stats{CacheStats: s.cache.Stats(), DroppedFills: s.dropped.Load()}
}

// Close waits for the write-backs in flight; later ones are skipped. It
// does not close the Redis cache, whose owner does.
func (s *Store) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.wg.Wait()
}

// WaitFills waits for the write-backs started so far (tests: the entries
// of a read are in Redis when it returns).
func (s *Store) WaitFills() { s.wg.Wait() }

func key(kind string, id int64) string {
	return kind + strconv.FormatInt(id, 10)
}

// byID reads ids through the cache: one MGET, the misses from fetch in one
// call, the rows found written back without the caller waiting for it.
func byID[T any](ctx context.Context, s *Store, kind string, ids []int64,
	fetch func(context.Context, []int64) ([]*T, error), version func(*T) int64) ([]*T, error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = key(kind, id)
	}
	vals := s.cache.Get(ctx, keys)
	out := make([]*T, len(ids))
	var missAt []int
	var missIDs []int64
	for i, v := range vals {
		if v != nil {
			t := new(T)
			if err := json.Unmarshal(v, t); err == nil {
				out[i] = t
				continue
			}
			// Not what this version encodes (an older release's entry,
			// say): read the row, and the write-back replaces it only
			// when newer, so it stays a miss until it expires.
		}
		missAt = append(missAt, i)
		missIDs = append(missIDs, ids[i])
	}
	if len(missIDs) == 0 {
		return out, nil
	}
	rows, err := fetch(ctx, missIDs)
	if err != nil {
		return nil, err
	}
	entries := make([]redis.CacheEntry, 0, len(rows))
	for j, r := range rows {
		i := missAt[j]
		out[i] = r
		if r == nil {
			continue // absent rows are not cached: creating one needs no invalidation
		}
		b, err := json.Marshal(r)
		if err != nil {
			continue
		}
		entries = append(entries, redis.CacheEntry{Key: keys[i], Version: version(r), Value: b})
	}
	s.fillLater(entries)
	return out, nil
}

// fillLater writes entries back in the background: the response need not
// wait for Redis, and a late write-back is harmless (Redis refuses it when
// the row changed meanwhile).
func (s *Store) fillLater(entries []redis.CacheEntry) {
	if len(entries) == 0 {
		return
	}
	select {
	case s.sem <- struct{}{}:
	default:
		s.dropped.Add(1)
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.sem
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		defer func() { <-s.sem }()
		ctx, cancel := context.WithTimeout(context.Background(), fillTimeout)
		defer cancel()
		s.cache.Fill(ctx, entries) // a failure opens the breaker; the read is answered already
	}()
}

// invalidate records committed changes in the cache. A failure is logged
// only: the write succeeded, and the cache keeps the changes to apply
// before it is read again.
func (s *Store) invalidate(ctx context.Context, changes ...redis.CacheChange) {
	if err := s.cache.Invalidate(ctx, changes); err != nil {
		s.log.WarnContext(ctx, "cache invalidation deferred until Redis answers", "keys", len(changes), "error", err)
	}
}

// afterWrite invalidates key after a write of it: at version v when it
// succeeded; when the outcome is unknown (an internal error, which may
// come after the commit, from the COMMIT itself) the key is closed to
// write-backs for a TTL, since the new version is not known; a refusal
// (validation, not found, conflict) changed nothing.
func (s *Store) afterWrite(ctx context.Context, k string, v int64, err error) {
	switch {
	case err == nil:
		s.invalidate(ctx, redis.CacheChange{Key: k, Version: v})
	case shipgraph.ErrorCode(err) == shipgraph.CodeInternal:
		s.invalidate(ctx, redis.CacheChange{Key: k, Version: redis.Deleted})
	}
}

// FeaturesByID implements shipgraph.Store.
func (s *Store) FeaturesByID(ctx context.Context, ids []int64) ([]*shipgraph.Feature, error) {
	return byID(ctx, s, kindFeature, ids, s.Inner.FeaturesByID, func(f *shipgraph.Feature) int64 { return int64(f.Version) })
}

// TestCasesByID implements shipgraph.Store.
func (s *Store) TestCasesByID(ctx context.Context, ids []int64) ([]*shipgraph.TestCase, error) {
	return byID(ctx, s, kindTestCase, ids, s.Inner.TestCasesByID, func(t *shipgraph.TestCase) int64 { return int64(t.Version) })
}

// BuildsByID implements shipgraph.Store.
func (s *Store) BuildsByID(ctx context.Context, ids []int64) ([]*shipgraph.Build, error) {
	return byID(ctx, s, kindBuild, ids, s.Inner.BuildsByID, func(b *shipgraph.Build) int64 { return int64(b.Version) })
}

// DeploymentsByID implements shipgraph.Store.
func (s *Store) DeploymentsByID(ctx context.Context, ids []int64) ([]*shipgraph.Deployment, error) {
	return byID(ctx, s, kindDeployment, ids, s.Inner.DeploymentsByID, func(d *shipgraph.Deployment) int64 { return int64(d.Version) })
}

// EventsByID implements shipgraph.Store. Events never change (only their
// feature's deletion removes them), so every copy has version 0.
func (s *Store) EventsByID(ctx context.Context, ids []int64) ([]*shipgraph.DeploymentEvent, error) {
	return byID(ctx, s, kindEvent, ids, s.Inner.EventsByID, func(*shipgraph.DeploymentEvent) int64 { return 0 })
}

// UpdateFeature implements shipgraph.Store.
func (s *Store) UpdateFeature(ctx context.Context, in shipgraph.FeatureUpdate) (*shipgraph.Feature, error) {
	f, err := s.Inner.UpdateFeature(ctx, in)
	var v int64
	if f != nil {
		v = int64(f.Version)
	}
	s.afterWrite(ctx, key(kindFeature, in.ID), v, err)
	return f, err
}

// DeleteFeature implements shipgraph.Store: the feature and everything its
// deletion cascaded to are invalidated for good.
func (s *Store) DeleteFeature(ctx context.Context, id int64) error {
	c, err := s.Inner.DeleteFeatureCascade(ctx, id)
	if err != nil {
		s.afterWrite(ctx, key(kindFeature, id), redis.Deleted, err)
		return err
	}
	changes := make([]redis.CacheChange, 0, 1+len(c.TestCaseIDs)+len(c.BuildIDs)+len(c.DeploymentIDs)+len(c.EventIDs))
	changes = append(changes, redis.CacheChange{Key: key(kindFeature, id), Version: redis.Deleted})
	for _, group := range []struct {
		kind string
		ids  []int64
	}{{kindTestCase, c.TestCaseIDs}, {kindBuild, c.BuildIDs}, {kindDeployment, c.DeploymentIDs}, {kindEvent, c.EventIDs}} {
		for _, id := range group.ids {
			changes = append(changes, redis.CacheChange{Key: key(group.kind, id), Version: redis.Deleted})
		}
	}
	s.invalidate(ctx, changes...)
	return nil
}

// UpdateTestCase implements shipgraph.Store.
func (s *Store) UpdateTestCase(ctx context.Context, in shipgraph.TestCaseUpdate) (*shipgraph.TestCase, error) {
	t, err := s.Inner.UpdateTestCase(ctx, in)
	var v int64
	if t != nil {
		v = int64(t.Version)
	}
	s.afterWrite(ctx, key(kindTestCase, in.ID), v, err)
	return t, err
}

// DeleteTestCase implements shipgraph.Store.
func (s *Store) DeleteTestCase(ctx context.Context, id int64) error {
	err := s.Inner.DeleteTestCase(ctx, id)
	s.afterWrite(ctx, key(kindTestCase, id), redis.Deleted, err)
	return err
}

// UpdateBuildStatus implements shipgraph.Store.
func (s *Store) UpdateBuildStatus(ctx context.Context, in shipgraph.BuildStatusUpdate) (*shipgraph.Build, error) {
	b, err := s.Inner.UpdateBuildStatus(ctx, in)
	var v int64
	if b != nil {
		v = int64(b.Version)
	}
	s.afterWrite(ctx, key(kindBuild, in.ID), v, err)
	return b, err
}

// Transition implements shipgraph.Store: the deployment changes (status,
// progress, stages); the event is new.
func (s *Store) Transition(ctx context.Context, t shipgraph.Transition) (*shipgraph.DeploymentEvent, *shipgraph.Deployment, error) {
	e, d, err := s.Inner.Transition(ctx, t)
	var v int64
	if d != nil {
		v = int64(d.Version)
	}
	s.afterWrite(ctx, key(kindDeployment, t.DeploymentID), v, err)
	return e, d, err
}

// CancelDeployment implements shipgraph.Store.
func (s *Store) CancelDeployment(ctx context.Context, id int64) (*shipgraph.Deployment, error) {
	d, err := s.Inner.CancelDeployment(ctx, id)
	var v int64
	if d != nil {
		v = int64(d.Version)
	}
	s.afterWrite(ctx, key(kindDeployment, id), v, err)
	return d, err
}
