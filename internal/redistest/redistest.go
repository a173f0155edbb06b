// Package redistest points tests at a real Redis and keeps them apart on
// it: each test gets a key prefix of its own, whose keys are deleted when
// the test ends.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"regexp"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// URL is the Redis server tests use: TEST_REDIS_URL, else REDIS_URL, else
// the local server. A test that needs Redis fails (never skips) when it
// does not answer: `make test` starts it with scripts/ensure-redis.sh.
func URL(t testing.TB) string {
	t.Helper()
	url := "redis://127.0.0.1:6379/0"
	for _, k := range []string{"TEST_REDIS_URL", "REDIS_URL"} {
		if v := os.Getenv(k); v != "" {
			url = v
			break
		}
	}
	opt, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatalf("redistest: invalid Redis URL")
	}
	rdb := goredis.NewClient(opt)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("redistest: Redis does not answer (run scripts/ensure-redis.sh, or set TEST_REDIS_URL): %v", err)
	}
	return url
}

// UnreachableURL returns the redis:// URL of a loopback port that nothing
// listens on (it was free a moment ago), for tests of a Redis that is down.
func UnreachableURL(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("redis://127.0.0.1:%d/0", freePort(t))
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

var unsafeKeyChars = regexp.MustCompile(`[^A-Za-z0-9_-]`)

// Prefix returns a key prefix unique to this test on the server at url,
// and deletes every key under it when the test ends.
func Prefix(t testing.TB, url string) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	// Only plain characters: the prefix is also a SCAN pattern.
	name := unsafeKeyChars.ReplaceAllString(t.Name(), "_")
	prefix := "shipgraph-test:" + name + ":" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		opt, err := goredis.ParseURL(url)
		if err != nil {
			return
		}
		rdb := goredis.NewClient(opt)
		defer rdb.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
	return prefix
}
