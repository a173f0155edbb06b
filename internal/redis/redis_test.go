package redis_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shipgraph/shipgraph/internal/ratelimit"
	"github.com/shipgraph/shipgraph/internal/redis"
	"github.com/shipgraph/shipgraph/internal/redistest"
)

var _ ratelimit.Counter = (*redis.RateCounter)(nil)

func open(t *testing.T, url, prefix string) *redis.Client {
	t.Helper()
	c, err := redis.Open(redis.Config{URL: url, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRateCounterTakesUntilTheLimitAndNoFurther(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	rc := open(t, url, redistest.Prefix(t, url)).RateCounter()
	ctx := context.Background()
	for i, step := range []struct {
		cost      int64
		wantCount int64
		wantOK    bool
	}{
		{3, 3, true},
		{6, 9, true},
		{2, 9, false}, // 11 > 10: refused, and nothing spent
		{1, 10, true}, // the last point still fits
		{1, 10, false},
	} {
		count, ok, err := rc.Take(ctx, "caller", step.cost, 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if count != step.wantCount || ok != step.wantOK {
			t.Fatalf("step %d: got (%d, %v), want (%d, %v)", i, count, ok, step.wantCount, step.wantOK)
		}
	}
}

func TestRateCounterKeysExpire(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	rc := open(t, url, redistest.Prefix(t, url)).RateCounter()
	ctx := context.Background()
	if _, ok, err := rc.Take(ctx, "caller", 5, 5, 100*time.Millisecond); err != nil || !ok {
		t.Fatalf("take: %v %v", ok, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		count, ok, err := rc.Take(ctx, "caller", 5, 5, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if ok && count == 5 {
			return // the old count expired and a new one started
		}
		if time.Now().After(deadline) {
			t.Fatalf("count %d never expired", count)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRateCounterIsAtomicAcrossClients has two clients (two instances)
// race for the same budget: exactly the limit must be granted.
func TestRateCounterIsAtomicAcrossClients(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	counters := []*redis.RateCounter{open(t, url, prefix).RateCounter(), open(t, url, prefix).RateCounter()}
	var granted atomic.Int64
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			_, ok, err := counters[i%2].Take(context.Background(), "shared", 1, 37, time.Minute)
			if err != nil {
				t.Error(err)
			}
			if ok {
				granted.Add(1)
			}
		})
	}
	wg.Wait()
	if granted.Load() != 37 {
		t.Fatalf("granted %d, want 37", granted.Load())
	}
}

func TestUnreachableRedisFailsFast(t *testing.T) {
	t.Parallel()
	rc := open(t, redistest.UnreachableURL(t), "x:").RateCounter()
	start := time.Now()
	if _, _, err := rc.Take(context.Background(), "caller", 1, 10, time.Minute); err == nil {
		t.Fatal("no error from a closed port")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %s to fail", d)
	}
}

func TestOpenRefusesABadURLWithoutEchoingIt(t *testing.T) {
	t.Parallel()
	_, err := redis.Open(redis.Config{URL: "http://user:s3cret@host"})
	if err == nil {
		t.Fatal("accepted an http URL")
	}
	if got := err.Error(); strings.Contains(got, "s3cret") {
		t.Fatalf("error echoes the password: %s", got)
	}
}
