package redis_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/shipgraph/shipgraph/internal/redis"
	"github.com/shipgraph/shipgraph/internal/redistest"
)

func newCache(t *testing.T, url, prefix string, cfg redis.CacheConfig) *redis.Cache {
	t.Helper()
	if cfg.TTL == 0 {
		cfg.TTL = time.Hour
	}
	c := open(t, url, prefix).NewCache(cfg)
	t.Cleanup(func() { c.Close() })
	return c
}

// get returns the cached payload of key as a string, "" when missing.
func get(t *testing.T, c *redis.Cache, key string) string {
	t.Helper()
	return string(c.Get(context.Background(), []string{key})[0])
}

func fill(t *testing.T, c *redis.Cache, key string, version int64, value string) {
	t.Helper()
	if err := c.Fill(context.Background(), []redis.CacheEntry{{Key: key, Version: version, Value: []byte(value)}}); err != nil {
		t.Fatal(err)
	}
}

func invalidate(t *testing.T, c *redis.Cache, key string, version int64) {
	t.Helper()
	if err := c.Invalidate(context.Background(), []redis.CacheChange{{Key: key, Version: version}}); err != nil {
		t.Fatal(err)
	}
}

func TestCacheReadsABatchWithOneMGETAndCountsHits(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	c := newCache(t, url, redistest.Prefix(t, url), redis.CacheConfig{Timeout: time.Second})
	ctx := context.Background()
	err := c.Fill(ctx, []redis.CacheEntry{
		{Key: "f:1", Version: 1, Value: []byte(`{"ID":1}`)},
		{Key: "f:3", Version: 7, Value: []byte(`{"ID":3,"Name":"a:b"}`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := c.Get(ctx, []string{"f:1", "f:2", "f:3"})
	if string(got[0]) != `{"ID":1}` || got[1] != nil || string(got[2]) != `{"ID":3,"Name":"a:b"}` {
		t.Fatalf("Get = %q", got)
	}
	if st := c.Stats(); st.Hits != 2 || st.Misses != 1 || st.Fills != 2 || st.Errors != 0 {
		t.Fatalf("stats = %+v, want 2 hits, 1 miss, 2 fills", st)
	}
}

func TestCacheEntriesAndTombstonesExpireAfterTheTTL(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	c := newCache(t, url, prefix, redis.CacheConfig{TTL: 90 * time.Second, Timeout: time.Second})
	fill(t, c, "f:1", 1, "x")
	invalidate(t, c, "f:2", 3)
	opt, _ := goredis.ParseURL(url)
	rdb := goredis.NewClient(opt)
	defer rdb.Close()
	for _, k := range []string{"f:1", "f:2"} {
		ttl, err := rdb.PTTL(context.Background(), prefix+"cache:"+k).Result()
		if err != nil || ttl <= 80*time.Second || ttl > 90*time.Second {
			t.Fatalf("PTTL %s = %v, %v; want about 90s", k, ttl, err)
		}
	}
}

// The race of read-through caches, step by step: a reader reads version 1,
// a writer commits version 2 and invalidates, then the reader's
// write-back arrives. It must not land.
func TestCacheRefusesAWriteBackOlderThanTheLastInvalidation(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	c := newCache(t, url, redistest.Prefix(t, url), redis.CacheConfig{Timeout: time.Second})

	t.Run("a late write-back of the old row is refused", func(t *testing.T) {
		fill(t, c, "f:1", 1, "v1")
		invalidate(t, c, "f:1", 2)
		if got := get(t, c, "f:1"); got != "" {
			t.Fatalf("after invalidation got %q, want a miss", got)
		}
		fill(t, c, "f:1", 1, "v1") // the reader that read before the commit
		if got := get(t, c, "f:1"); got != "" {
			t.Fatalf("a write-back of version 1 landed over the version 2 tombstone: %q", got)
		}
		fill(t, c, "f:1", 2, "v2")
		if got := get(t, c, "f:1"); got != "v2" {
			t.Fatalf("got %q, want v2 filled over its tombstone", got)
		}
	})
	t.Run("a write-back never replaces a newer value", func(t *testing.T) {
		fill(t, c, "f:2", 5, "v5")
		fill(t, c, "f:2", 4, "v4")
		if got := get(t, c, "f:2"); got != "v5" {
			t.Fatalf("got %q, want v5", got)
		}
		fill(t, c, "f:2", 6, "v6")
		if got := get(t, c, "f:2"); got != "v6" {
			t.Fatalf("got %q, want v6", got)
		}
	})
	t.Run("invalidations arriving out of order keep the newest", func(t *testing.T) {
		invalidate(t, c, "f:3", 3)
		invalidate(t, c, "f:3", 2)
		fill(t, c, "f:3", 2, "v2")
		if got := get(t, c, "f:3"); got != "" {
			t.Fatalf("got %q: the version 2 invalidation lowered the version 3 tombstone", got)
		}
	})
	t.Run("an invalidation that arrives after the new value was cached keeps it", func(t *testing.T) {
		fill(t, c, "f:4", 2, "v2")
		invalidate(t, c, "f:4", 2)
		if got := get(t, c, "f:4"); got != "v2" {
			t.Fatalf("got %q, want v2 kept", got)
		}
	})
	t.Run("a deleted entity is never filled again", func(t *testing.T) {
		fill(t, c, "t:5", 9, "v9")
		invalidate(t, c, "t:5", redis.Deleted)
		fill(t, c, "t:5", 10, "v10")
		if got := get(t, c, "t:5"); got != "" {
			t.Fatalf("got %q after delete", got)
		}
	})
}

func TestCacheWithoutRedisCostsOneFailureThenNothing(t *testing.T) {
	t.Parallel()
	c := newCache(t, redistest.UnreachableURL(t), "x:", redis.CacheConfig{BackoffMin: time.Hour})
	ctx := context.Background()
	start := time.Now()
	for range 100 {
		if got := c.Get(ctx, []string{"f:1", "f:2"}); got[0] != nil || got[1] != nil {
			t.Fatalf("Get = %q", got)
		}
	}
	if err := c.Fill(ctx, []redis.CacheEntry{{Key: "f:1", Version: 1, Value: []byte("x")}}); err != nil {
		t.Fatalf("Fill with the breaker open: %v (want skipped)", err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Fatalf("100 reads without Redis took %v", elapsed)
	}
	st := c.Stats()
	if st.Errors != 1 || !st.Open || st.Skipped != 200 || st.Hits+st.Misses != 0 {
		t.Fatalf("stats = %+v; want one error, the breaker open, every key skipped", st)
	}
	if err := c.Invalidate(ctx, []redis.CacheChange{{Key: "f:1", Version: 2}}); err != nil {
		t.Fatalf("Invalidate with the breaker open: %v (want kept for later)", err)
	}
	if st := c.Stats(); st.Pending != 1 {
		t.Fatalf("pending = %d, want 1", st.Pending)
	}
}

// A Redis that hangs (stopped, its connections open) costs a read the
// cache's timeout, once; the changes made meanwhile are applied before the
// cache answers again, so the value cached before the hang never comes
// back.
func TestCacheSurvivesAHungRedisAndAppliesMissedInvalidations(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t)
	c := newCache(t, srv.URL(), "x:", redis.CacheConfig{BackoffMin: 100 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	ctx := context.Background()
	fill(t, c, "f:1", 1, "old")
	if got := get(t, c, "f:1"); got != "old" {
		t.Fatalf("got %q", got)
	}

	srv.Pause()
	start := time.Now()
	got := get(t, c, "f:1")
	if elapsed := time.Since(start); elapsed > 500*time.Millisecond || got != "" {
		t.Fatalf("read with Redis hung: %q after %v; want a miss within the cache timeout", got, elapsed)
	}
	// The write commits while Redis hangs: its invalidation is kept.
	c.Invalidate(ctx, []redis.CacheChange{{Key: "f:1", Version: 2}})
	if st := c.Stats(); !st.Open || st.Pending != 1 {
		t.Fatalf("stats = %+v, want open with 1 pending", st)
	}
	srv.Resume()

	deadline := time.Now().Add(10 * time.Second)
	for c.Stats().Open {
		if got := get(t, c, "f:1"); got != "" {
			t.Fatalf("the value from before the change came back: %q", got)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cache did not come back: %+v", c.Stats())
		}
		time.Sleep(20 * time.Millisecond) // the back-off runs on the clock
	}
	if got := get(t, c, "f:1"); got != "" {
		t.Fatalf("after recovery got %q, want the tombstone of version 2", got)
	}
	fill(t, c, "f:1", 1, "old")
	fill(t, c, "f:1", 2, "new")
	if got := get(t, c, "f:1"); got != "new" {
		t.Fatalf("got %q, want new", got)
	}
	if st := c.Stats(); st.Pending != 0 || st.Open {
		t.Fatalf("stats = %+v", st)
	}
}

// Too many changes to keep while Redis is away: the whole cache is dropped
// when it comes back.
func TestCacheDropsEverythingWhenTooManyChangesWereMissed(t *testing.T) {
	t.Parallel()
	srv := redistest.StartServer(t)
	c := newCache(t, srv.URL(), "x:", redis.CacheConfig{BackoffMin: 50 * time.Millisecond, BackoffMax: 50 * time.Millisecond})
	ctx := context.Background()
	fill(t, c, "f:1", 1, "old")
	srv.Pause()
	get(t, c, "f:1") // times out, opens the breaker
	changes := make([]redis.CacheChange, 10001)
	for i := range changes {
		changes[i] = redis.CacheChange{Key: "t:" + strconv.Itoa(i), Version: 2}
	}
	c.Invalidate(ctx, changes)
	srv.Resume()
	deadline := time.Now().Add(10 * time.Second)
	for c.Stats().Open {
		if time.Now().After(deadline) {
			t.Fatalf("the cache did not come back: %+v", c.Stats())
		}
		time.Sleep(20 * time.Millisecond)
		get(t, c, "f:2")
	}
	if got := get(t, c, "f:1"); got != "" {
		t.Fatalf("got %q, want everything dropped", got)
	}
	if n, _ := srv.Client().DBSize(ctx).Result(); n != 0 {
		t.Fatalf("%d keys left", n)
	}
}
