package redis_test

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/shipgraph/shipgraph/internal/persisted"
	"github.com/shipgraph/shipgraph/internal/redis"
	"github.com/shipgraph/shipgraph/internal/redistest"
)

var _ persisted.Store = (*redis.PersistedQueries)(nil)

func TestPersistedQueriesAreSharedAndExpire(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	a := open(t, url, prefix).PersistedQueries(time.Hour)
	b := open(t, url, prefix).PersistedQueries(time.Hour)
	ctx := context.Background()
	if _, ok, err := b.GetQuery(ctx, "abc"); ok || err != nil {
		t.Fatalf("unknown hash: ok %v, err %v", ok, err)
	}
	if err := a.SetQuery(ctx, "abc", "{ features { totalCount } }"); err != nil {
		t.Fatal(err)
	}
	if q, ok, err := b.GetQuery(ctx, "abc"); !ok || err != nil || q != "{ features { totalCount } }" {
		t.Fatalf("got %q, %v, %v", q, ok, err)
	}

	// The key is where the documentation says, with the TTL asked for.
	opt, _ := goredis.ParseURL(url)
	rdb := goredis.NewClient(opt)
	defer rdb.Close()
	if ttl := rdb.TTL(ctx, prefix+"apq:abc").Val(); ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("TTL %v, want about an hour", ttl)
	}
	forever := open(t, url, prefix).PersistedQueries(0)
	if err := forever.SetQuery(ctx, "def", "{ __typename }"); err != nil {
		t.Fatal(err)
	}
	if ttl := rdb.TTL(ctx, prefix+"apq:def").Val(); ttl != -1 {
		t.Fatalf("TTL 0 should keep the key without expiry, got %v", ttl)
	}
}

func TestPersistedQueriesReportAnUnreachableRedis(t *testing.T) {
	t.Parallel()
	c, err := redis.Open(redis.Config{URL: "redis://127.0.0.1:1/0"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pq := c.PersistedQueries(time.Hour)
	if _, ok, err := pq.GetQuery(context.Background(), "abc"); ok || err == nil {
		t.Fatalf("ok %v, err %v: want an error", ok, err)
	}
	if err := pq.SetQuery(context.Background(), "abc", "{ __typename }"); err == nil {
		t.Fatal("want an error")
	}
}
