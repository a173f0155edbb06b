package cache_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shipgraph/shipgraph/internal/cache"
	"github.com/shipgraph/shipgraph/internal/pgtest"
	"github.com/shipgraph/shipgraph/internal/postgres"
	"github.com/shipgraph/shipgraph/internal/redis"
	"github.com/shipgraph/shipgraph/internal/redistest"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

var testDB *pgtest.Database

func TestMain(m *testing.M) { pgtest.Main(m, &testDB) }

// newStore returns the PostgreSQL store behind a cache in the test Redis,
// under a prefix of the test's own.
func newStore(t *testing.T) *cache.Store {
	t.Helper()
	url := redistest.URL(t)
	return newStoreAt(t, url, redistest.Prefix(t, url))
}

func newStoreAt(t *testing.T, url, prefix string) *cache.Store {
	t.Helper()
	rdb, err := redis.Open(redis.Config{URL: url, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	// A generous timeout: these tests are about what is cached, not
	// about a slow Redis, and run on loaded machines.
	rc := rdb.NewCache(redis.CacheConfig{TTL: time.Hour, Timeout: time.Second})
	s := cache.New(postgres.NewStore(testDB.DB), rc, nil)
	t.Cleanup(func() {
		s.Close()
		rc.Close()
		rdb.Close()
	})
	return s
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func ptr[T any](v T) *T { return &v }

func newFeature(t *testing.T, s shipgraph.Store, name string) *shipgraph.Feature {
	t.Helper()
	return must[*shipgraph.Feature](t)(s.CreateFeature(context.Background(), shipgraph.FeatureCreate{Name: name, ComplexityPoints: 3}))
}

// feature reads one feature by id through s.
func feature(t *testing.T, s shipgraph.Store, id int64) *shipgraph.Feature {
	t.Helper()
	fs := must[[]*shipgraph.Feature](t)(s.FeaturesByID(context.Background(), []int64{id}))
	return fs[0]
}

func TestByIDReadsThroughTheCache(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	a, b := newFeature(t, s, "cache a"), newFeature(t, s, "cache b")
	ids := []int64{a.ID, 1 << 40, b.ID}

	first := must[[]*shipgraph.Feature](t)(s.FeaturesByID(ctx, ids))
	if first[0].Name != "cache a" || first[1] != nil || first[2].Name != "cache b" {
		t.Fatalf("first read = %v", first)
	}
	s.WaitFills()
	// Changed behind the cache's back (no version, no invalidation): only a
	// read served from Redis still sees the old name.
	if _, err := testDB.DB.Pool.Exec(ctx, "UPDATE features SET name = 'changed behind' WHERE id = $1", a.ID); err != nil {
		t.Fatal(err)
	}
	second := must[[]*shipgraph.Feature](t)(s.FeaturesByID(ctx, ids))
	if second[0].Name != "cache a" || second[1] != nil || second[2].Name != "cache b" {
		t.Fatalf("second read = %v, want the cached rows", second)
	}
	if !second[0].CreatedAt.Equal(a.CreatedAt) || second[0].Version != a.Version || second[0].ComplexityPoints != 3 {
		t.Fatalf("cached feature %+v differs from %+v", second[0], a)
	}
	if st := s.Stats(); st.Hits != 2 || st.Misses != 4 || st.Fills != 2 {
		t.Fatalf("stats = %+v; want 2 hits, 4 misses (3, then the missing id again), 2 fills", st)
	}
}

// deployed creates a feature with a test case, a SUCCEEDED build and a
// cancelled deployment of it (two events).
func deployed(t *testing.T, s shipgraph.Store, name string) (*shipgraph.Feature, *shipgraph.TestCase, *shipgraph.Build, *shipgraph.Deployment) {
	t.Helper()
	ctx := context.Background()
	f := newFeature(t, s, name)
	tc := must[*shipgraph.TestCase](t)(s.CreateTestCase(ctx, shipgraph.TestCaseCreate{FeatureID: f.ID, Title: "it works"}))
	b := must[*shipgraph.Build](t)(s.CreateBuild(ctx, shipgraph.BuildCreate{FeatureID: f.ID, CommitSHA: "abcdef1", Branch: "main"}))
	must[*shipgraph.Build](t)(s.UpdateBuildStatus(ctx, shipgraph.BuildStatusUpdate{ID: b.ID, Status: shipgraph.BuildRunning}))
	b = must[*shipgraph.Build](t)(s.UpdateBuildStatus(ctx, shipgraph.BuildStatusUpdate{ID: b.ID, Status: shipgraph.BuildSucceeded}))
	d, _, err := s.CreateDeployment(ctx, shipgraph.DeploymentCreate{BuildID: b.ID, Environment: "staging"})
	if err != nil {
		t.Fatal(err)
	}
	return f, tc, b, d
}

func TestWritesInvalidateWhatTheyChanged(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	f, tc, b, d := deployed(t, s, "invalidation")
	// Cache everything.
	warm := func() {
		t.Helper()
		must[[]*shipgraph.Feature](t)(s.FeaturesByID(ctx, []int64{f.ID}))
		must[[]*shipgraph.TestCase](t)(s.TestCasesByID(ctx, []int64{tc.ID}))
		must[[]*shipgraph.Build](t)(s.BuildsByID(ctx, []int64{b.ID}))
		must[[]*shipgraph.Deployment](t)(s.DeploymentsByID(ctx, []int64{d.ID}))
		s.WaitFills()
	}
	warm()

	t.Run("updateFeature", func(t *testing.T) {
		must[*shipgraph.Feature](t)(s.UpdateFeature(ctx, shipgraph.FeatureUpdate{ID: f.ID, Name: ptr("renamed")}))
		if got := feature(t, s, f.ID); got.Name != "renamed" {
			t.Fatalf("name = %q", got.Name)
		}
	})
	t.Run("updateTestCase", func(t *testing.T) {
		must[*shipgraph.TestCase](t)(s.UpdateTestCase(ctx, shipgraph.TestCaseUpdate{ID: tc.ID, Status: ptr(shipgraph.TestPassed)}))
		if got := must[[]*shipgraph.TestCase](t)(s.TestCasesByID(ctx, []int64{tc.ID}))[0]; got.Status != shipgraph.TestPassed {
			t.Fatalf("status = %s", got.Status)
		}
	})
	t.Run("transition and cancel", func(t *testing.T) {
		must[*shipgraph.Deployment](t)(s.CancelDeployment(ctx, d.ID))
		got := must[[]*shipgraph.Deployment](t)(s.DeploymentsByID(ctx, []int64{d.ID}))[0]
		if got.Status != shipgraph.DeploymentCancelled {
			t.Fatalf("status = %s", got.Status)
		}
		stages, err := got.Stages()
		if err != nil || len(stages) != 4 {
			t.Fatalf("stages = %v, %v", stages, err)
		}
	})
	t.Run("a refused write changes nothing and keeps the entry", func(t *testing.T) {
		warm()
		hits := s.Stats().Hits
		_, err := s.UpdateFeature(ctx, shipgraph.FeatureUpdate{ID: f.ID, Name: ptr("x"), ExpectedVersion: ptr(1)})
		if shipgraph.ErrorCode(err) != shipgraph.CodeBadUserInput && shipgraph.ErrorCode(err) != shipgraph.CodeConflict {
			t.Fatalf("err = %v", err)
		}
		feature(t, s, f.ID)
		if s.Stats().Hits != hits+1 {
			t.Fatalf("the entry was dropped by a refused write: %+v", s.Stats())
		}
	})
	t.Run("deleteTestCase", func(t *testing.T) {
		if err := s.DeleteTestCase(ctx, tc.ID); err != nil {
			t.Fatal(err)
		}
		if got := must[[]*shipgraph.TestCase](t)(s.TestCasesByID(ctx, []int64{tc.ID}))[0]; got != nil {
			t.Fatalf("deleted test case read back: %+v", got)
		}
	})
}

func TestDeleteFeatureDropsEverythingItCascadedTo(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	f, tc, b, d := deployed(t, s, "cascade")
	must[*shipgraph.Deployment](t)(s.CancelDeployment(ctx, d.ID))
	evs := must[[]shipgraph.Page[*shipgraph.DeploymentEvent]](t)(s.ListEvents(ctx, []shipgraph.EventQuery{{DeploymentID: d.ID, Page: shipgraph.PageArgs{First: 10}}}))[0].Items
	if len(evs) != 2 {
		t.Fatalf("%d events", len(evs))
	}
	read := func() []any {
		return []any{
			must[[]*shipgraph.Feature](t)(s.FeaturesByID(ctx, []int64{f.ID}))[0],
			must[[]*shipgraph.TestCase](t)(s.TestCasesByID(ctx, []int64{tc.ID}))[0],
			must[[]*shipgraph.Build](t)(s.BuildsByID(ctx, []int64{b.ID}))[0],
			must[[]*shipgraph.Deployment](t)(s.DeploymentsByID(ctx, []int64{d.ID}))[0],
			must[[]*shipgraph.DeploymentEvent](t)(s.EventsByID(ctx, []int64{evs[0].ID}))[0],
			must[[]*shipgraph.DeploymentEvent](t)(s.EventsByID(ctx, []int64{evs[1].ID}))[0],
		}
	}
	read()
	s.WaitFills()
	hits := s.Stats().Hits
	read()
	if got := s.Stats().Hits - hits; got != 6 {
		t.Fatalf("%d of 6 entities were cached before the delete", got)
	}
	if err := s.DeleteFeature(ctx, f.ID); err != nil {
		t.Fatal(err)
	}
	for i, e := range read() {
		if fmt.Sprint(e) != "<nil>" {
			t.Errorf("entity %d read back after its feature was deleted: %+v", i, e)
		}
	}
}

// Many readers and writers on a few features: once a write has returned,
// every read that starts afterwards sees its version or a newer one, even
// though readers write back what they read concurrently with the writes.
func TestReadAfterWriteUnderConcurrency(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ctx := context.Background()
	const (
		features = 4
		writers  = 4
		writes   = 40 // per writer
		readers  = 8
	)
	ids := make([]int64, features)
	committed := make([]atomic.Int64, features) // highest version a returned write produced
	for i := range ids {
		f := newFeature(t, s, fmt.Sprintf("race %d", i))
		ids[i] = f.ID
		committed[i].Store(int64(f.Version))
	}
	var stale atomic.Int64
	var firstStale atomic.Value
	done := make(chan struct{})
	var readersWG sync.WaitGroup
	for range readers {
		readersWG.Add(1)
		go func() {
			defer readersWG.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				var floor [features]int64
				for i := range floor {
					floor[i] = committed[i].Load()
				}
				got, err := s.FeaturesByID(ctx, ids)
				if err != nil {
					t.Error(err)
					return
				}
				for i, f := range got {
					if int64(f.Version) < floor[i] {
						if stale.Add(1) == 1 {
							firstStale.Store(fmt.Sprintf("feature %d: read version %d after version %d was written", f.ID, f.Version, floor[i]))
						}
					}
				}
			}
		}()
	}
	var writersWG sync.WaitGroup
	for w := range writers {
		writersWG.Add(1)
		go func() {
			defer writersWG.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for k := range writes {
				i := r.IntN(features)
				f, err := s.UpdateFeature(ctx, shipgraph.FeatureUpdate{ID: ids[i], Name: ptr(fmt.Sprintf("w%d k%d", w, k))})
				if err != nil {
					t.Error(err)
					return
				}
				for v := int64(f.Version); ; {
					cur := committed[i].Load()
					if cur >= v || committed[i].CompareAndSwap(cur, v) {
						break
					}
				}
			}
		}()
	}
	writersWG.Wait()
	close(done)
	readersWG.Wait()
	if n := stale.Load(); n > 0 {
		t.Fatalf("%d stale reads; the first: %s", n, firstStale.Load())
	}
	st := s.Stats()
	// Under load a Redis command may time out and open the breaker for a
	// while; the cache must still have served and been filled.
	if st.Hits == 0 || st.Fills == 0 || st.Invalidations == 0 {
		t.Fatalf("the cache was not exercised: %+v", st)
	}
	// And at rest, the cache holds the last versions.
	s.WaitFills()
	for i, id := range ids {
		if got := feature(t, s, id); int64(got.Version) != committed[i].Load() {
			t.Fatalf("feature %d: version %d at rest, want %d", id, got.Version, committed[i].Load())
		}
	}
	t.Logf("stats: %+v", st)
}

func TestWithoutRedisEverythingComesFromPostgreSQL(t *testing.T) {
	t.Parallel()
	s := newStoreAt(t, redistest.UnreachableURL(t), "x:")
	ctx := context.Background()
	f := newFeature(t, s, "no redis")
	start := time.Now()
	for range 20 {
		if got := feature(t, s, f.ID); got == nil || got.Name != "no redis" {
			t.Fatalf("got %+v", got)
		}
	}
	must[*shipgraph.Feature](t)(s.UpdateFeature(ctx, shipgraph.FeatureUpdate{ID: f.ID, Name: ptr("still no redis")}))
	if got := feature(t, s, f.ID); got.Name != "still no redis" {
		t.Fatalf("got %+v", got)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("21 reads and a write took %v without Redis", elapsed)
	}
	if st := s.Stats(); st.Errors != 1 || !st.Open || st.Pending != 1 {
		t.Fatalf("stats = %+v; want one error, the breaker open, the write's invalidation kept", st)
	}
}
