package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/shipgraph/shipgraph/internal/redistest"
)

// The entity cache through a Redis that hangs, then dies, then comes back
// empty: every read succeeds from PostgreSQL within the budget meanwhile,
// a change made while Redis hung is not hidden by the value cached before
// it, and the cache fills and answers again by itself.
//
// Not parallel: it runs for about 20 s, and in the parallel pool it would
// delay tests whose tokens are minted before their subtests wait for a
// slot (TestJWTAttacksOverHTTP's "expired within the leeway").
func TestProcessCacheOutlivesRedisOutages(t *testing.T) {
	srv := redistest.StartServer(t)
	bin := serverBinary(t)
	db := processDatabase(t)
	const prefix = "shipgraph-cache-test:"
	p := startProcess(t, bin, "A", map[string]string{
		"DATABASE_URL":              db.URL,
		"REDIS_URL":                 srv.URL(),
		"SHIPGRAPH_REDIS_PREFIX":    prefix,
		"SHIPGRAPH_RUN_DEPLOYMENTS": "false",
	})
	api := p.api()
	rdb := srv.Client()
	ctx := context.Background()

	const n = 10
	ids := make([]any, n)
	want := make([]string, n)
	for i := range ids {
		want[i] = fmt.Sprintf("cached %d", i)
		ids[i] = api.createFeature(t, want[i])
	}
	// read reads every feature through nodes(ids:), checks the request's
	// latency, and returns the names.
	read := func(phase string) []string {
		t.Helper()
		start := time.Now()
		var out struct{ Nodes []struct{ Name string } }
		api.mustData(t, `query($ids: [ID!]!) { nodes(ids: $ids) { ... on Feature { name } } }`, map[string]any{"ids": ids}, &out)
		if elapsed := time.Since(start); elapsed > time.Second {
			t.Fatalf("%s: a read took %v", phase, elapsed)
		}
		names := make([]string, len(out.Nodes))
		for i, node := range out.Nodes {
			names[i] = node.Name
		}
		return names
	}
	check := func(phase string) {
		t.Helper()
		if got := read(phase); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("%s: names %q, want %q", phase, got, want)
		}
	}
	// cached waits until the cache is back (the resumed'th time) and holds
	// every feature, then proves reads come from it: renamed in
	// PostgreSQL behind the cache's back, they still read as cached. The
	// rename is undone after.
	cached := func(phase string, resumed int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			check(phase)
			if p.log.count("entity cache: Redis answers again") >= resumed && cachedValues(ctx, rdb, prefix+"cache:f:*") >= n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the cache did not come back in 20s", phase)
			}
			time.Sleep(50 * time.Millisecond) // the breaker's back-off runs on the clock
		}
		behind, err := db.DB.Pool.Exec(ctx, "UPDATE features SET name = name || ' behind'")
		if err != nil || behind.RowsAffected() != n {
			t.Fatal(err)
		}
		// Retried: on a loaded machine one Redis command may time out
		// and open the breaker for a second; the entries stay, and the
		// same version read from PostgreSQL never replaces them.
		for deadline := time.Now().Add(10 * time.Second); ; {
			got := read(phase + " (served from the cache)")
			if strings.Join(got, ",") == strings.Join(want, ",") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: names %q, not served from the cache", phase, got)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if _, err := db.DB.Pool.Exec(ctx, "UPDATE features SET name = replace(name, ' behind', '')"); err != nil {
			t.Fatal(err)
		}
	}
	cached("warm", 0)

	srv.Pause()
	check("Redis hung")
	var upd struct {
		UpdateFeature struct{ Feature struct{ Name string } }
	}
	api.mustData(t, `mutation($id: ID!) { updateFeature(input: {id: $id, name: "renamed while Redis hung"}) { feature { name } } }`,
		map[string]any{"id": ids[0]}, &upd)
	want[0] = "renamed while Redis hung"
	for range 5 {
		check("Redis hung, after the write")
	}
	srv.Resume()
	// The invalidation missed while Redis hung is applied before the
	// cache is read again: the old name never comes back.
	cached("Redis resumed", 1)

	srv.Kill()
	for range 5 {
		check("Redis dead")
	}
	srv.Start() // empty: no persistence
	cached("Redis restarted", 2)
}

// cachedValues counts the keys matching pattern that hold a value, not a
// tombstone ("<version>:").
func cachedValues(ctx context.Context, rdb *goredis.Client, pattern string) int {
	keys, err := rdb.Keys(ctx, pattern).Result()
	if err != nil || len(keys) == 0 {
		return 0
	}
	vals, err := rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return 0
	}
	n := 0
	for _, v := range vals {
		if s, ok := v.(string); ok && !strings.HasSuffix(s, ":") {
			n++
		}
	}
	return n
}

// count returns how many lines of the log contain s.
func (l *processLog) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}
