package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shipgraph/shipgraph/internal/pgtest"
	"github.com/shipgraph/shipgraph/internal/redistest"
)

// The operation limits and the rate limit, end to end: each limit at its
// bound and one beyond, through the same HTTP requests a client sends.

// wantLimitError checks that r is a refusal by the named limit, before
// anything ran.
func wantLimitError(t *testing.T, s *testServer, r *gqlResponse, limit string, max int) {
	t.Helper()
	if r.Status != http.StatusOK || len(r.Errors) != 1 || r.code() != "BAD_USER_INPUT" {
		t.Fatalf("want one BAD_USER_INPUT error, got %d: %s", r.Status, r.raw)
	}
	ext := r.Errors[0].Extensions
	if ext["limit"] != limit || ext["max"] != float64(max) {
		t.Fatalf("want limit %s, max %d; got %s", limit, max, r.raw)
	}
	if !strings.Contains(r.Errors[0].Message, strconv.Itoa(max)) {
		t.Fatalf("the message does not name the limit's value %d: %q", max, r.Errors[0].Message)
	}
	if len(r.Data) > 0 && string(r.Data) != "null" {
		t.Fatalf("refused, yet data: %s", r.raw)
	}
	if n := s.statementsOf(t, r.Header.Get("X-Request-ID")); n != 0 {
		t.Fatalf("a refused operation ran %d SQL statements", n)
	}
}

// wantOK checks that r succeeded.
func wantOK(t *testing.T, r *gqlResponse) {
	t.Helper()
	if r.Status != http.StatusOK || len(r.Errors) > 0 {
		t.Fatalf("want success, got %d: %s", r.Status, r.raw)
	}
}

func TestDepthLimit(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"SHIPGRAPH_MAX_DEPTH": "5"})
	// Fragments count with their depth where they are spread.
	const fragment = ` fragment F on FeatureConnection { nodes { builds(first: 1) { nodes { %s } } } }`
	wantOK(t, s.post(t, `{ features(first: 1) { ...F } }`+fmt.Sprintf(fragment, "id"), nil))       // 5
	r := s.post(t, `{ features(first: 1) { ...F } }`+fmt.Sprintf(fragment, "feature { id }"), nil) // 6
	wantLimitError(t, s, r, "depth", 5)
	if r.Errors[0].Extensions["value"] != float64(6) {
		t.Fatalf("value: %s", r.raw)
	}
}

// graphiqlIntrospectionQuery is the query GraphiQL sends for the schema:
// graphql-js's getIntrospectionQuery, with as many ofType levels as the
// embedded GraphiQL bundle asks for.
func graphiqlIntrospectionQuery(t testing.TB) string {
	t.Helper()
	bundle, err := os.ReadFile("internal/graphiql/assets/graphiql.min.js")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("fragment TypeRef on __Type \\{[^`]*").Find(bundle)
	levels := strings.Count(string(m), "ofType")
	if levels < 7 {
		t.Fatalf("found %d ofType levels in GraphiQL's introspection query", levels)
	}
	typeRef := "kind name" + strings.Repeat(" ofType { kind name", levels) + strings.Repeat(" }", levels)
	return `query IntrospectionQuery {
  __schema {
    queryType { name kind } mutationType { name kind } subscriptionType { name kind }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type { ` + typeRef + ` }`
}

func TestDefaultLimitsAdmitGraphiQL(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	t.Run("introspection", func(t *testing.T) {
		var out struct {
			Schema struct{ Types []struct{ Name string } } `json:"__schema"`
		}
		s.mustData(t, graphiqlIntrospectionQuery(t), nil, &out)
		if len(out.Schema.Types) < 10 {
			t.Fatalf("%d types", len(out.Schema.Types))
		}
	})
	t.Run("first tab", func(t *testing.T) {
		wantOK(t, s.post(t, defaultQuery, nil))
	})
}

func TestNodeLimit(t *testing.T) {
	t.Parallel()
	const nested = `query($n: Int) { features(first: $n) { nodes { builds(first: $n) { nodes { deployments(first: $n) { nodes { id } } } } } } }`
	t.Run("GitHub's default: three levels of 100 exceed it, of 10 pass", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil)
		literal := strings.NewReplacer("query($n: Int) ", "", "$n", "100").Replace(nested)
		wantLimitError(t, s, s.post(t, literal, nil), "nodes", 500_000)
		wantLimitError(t, s, s.post(t, nested, map[string]any{"n": 100}), "nodes", 500_000) // variables count
		wantOK(t, s.post(t, strings.ReplaceAll(literal, "100", "10"), nil))
		wantOK(t, s.post(t, nested, map[string]any{"n": 10}))
	})
	t.Run("at the bound and one beyond", func(t *testing.T) {
		t.Parallel()
		// 10 features, 10 builds each, 10 deployments each: 1,110 nodes.
		wantOK(t, startServer(t, map[string]string{"SHIPGRAPH_MAX_NODES": "1110"}).post(t, nested, map[string]any{"n": 10}))
		s := startServer(t, map[string]string{"SHIPGRAPH_MAX_NODES": "1109"})
		wantLimitError(t, s, s.post(t, nested, map[string]any{"n": 10}), "nodes", 1109)
	})
	t.Run("a connection without first counts its default page", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil)
		var out struct{ RateLimit struct{ Cost int } }
		// 20 features with 20 builds each: 420 nodes, 5 points.
		s.mustData(t, `{ rateLimit { cost } features { nodes { builds { totalCount } } } }`, nil, &out)
		if out.RateLimit.Cost != 5 {
			t.Fatalf("cost %d, want 5", out.RateLimit.Cost)
		}
	})
}

func TestAliasLimit(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"SHIPGRAPH_MAX_ALIASES": "2"})
	wantOK(t, s.post(t, `{ a: features(first: 1) { totalCount } b: features(first: 1) { totalCount } }`, nil))
	wantLimitError(t, s, s.post(t, `{ a: features(first: 1) { totalCount } b: features(first: 1) { totalCount } c: builds(first: 1) { totalCount } }`, nil), "aliases", 2)
}

func TestRootFieldLimit(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"SHIPGRAPH_MAX_ROOT_FIELDS": "2"})
	wantOK(t, s.post(t, `{ features(first: 1) { totalCount } builds(first: 1) { totalCount } }`, nil))
	wantLimitError(t, s, s.post(t, `{ features(first: 1) { totalCount } builds(first: 1) { totalCount } deployments(first: 1) { totalCount } }`, nil), "rootFields", 2)

	// A refused mutation writes nothing, not even its first field.
	create := func(alias, name string) string {
		return fmt.Sprintf(`%s: createFeature(input: {name: %q, complexityPoints: 1}) { feature { id } } `, alias, name)
	}
	name := "root field limit " + strconv.FormatInt(time.Now().UnixNano(), 36)
	wantLimitError(t, s, s.post(t, "mutation { "+create("a", name)+create("b", name+" b")+create("c", name+" c")+"}", nil), "rootFields", 2)
	if n := countFeatures(t, name+"%"); n != 0 {
		t.Fatalf("a refused mutation created %d features", n)
	}
	wantOK(t, s.post(t, "mutation { "+create("a", name)+create("b", name+" b")+"}", nil))
	if n := countFeatures(t, name+"%"); n != 2 {
		t.Fatalf("%d features created, want 2", n)
	}
}

// countFeatures counts the features whose name is LIKE pattern, straight
// from the database.
func countFeatures(t *testing.T, pattern string) int {
	t.Helper()
	var n int
	if err := testDB.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM features WHERE name LIKE $1`, pattern).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestTokenLimit(t *testing.T) {
	t.Parallel()
	const query = `{ features(first: 1) { totalCount } }` // 11 tokens
	wantOK(t, startServer(t, map[string]string{"SHIPGRAPH_MAX_TOKENS": "11"}).post(t, query, nil))
	s := startServer(t, map[string]string{"SHIPGRAPH_MAX_TOKENS": "10"})
	wantLimitError(t, s, s.post(t, query, nil), "tokens", 10)
}

// TestRequestTimeoutCancelsDatabaseWork holds a lock the operation needs,
// so its statement blocks in PostgreSQL, and checks that the timeout both
// answers the client and ends the statement in the database: a backend
// left waiting would hold a connection (and its locks) for nobody.
func TestRequestTimeoutCancelsDatabaseWork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// A database of its own: the table lock would stall the other tests.
	db, err := pgtest.Create(ctx, "timeout")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Drop(context.Background()) })
	s := startServer(t, map[string]string{"DATABASE_URL": db.URL, "SHIPGRAPH_REQUEST_TIMEOUT": "1s"})
	id := s.createFeature(t, "locked feature")

	blocked := func(t *testing.T, statement string) int {
		t.Helper()
		var n int
		err := db.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()
			AND state = 'active' AND wait_event_type = 'Lock' AND query LIKE $1`, "%"+statement+"%").Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, tc := range []struct {
		name, lock, statement, query string
	}{
		{"a query", `LOCK TABLE features IN ACCESS EXCLUSIVE MODE`, "FROM features",
			`{ features(first: 5) { totalCount nodes { name } } }`},
		{"a mutation", `SELECT 1 FROM features WHERE name = 'locked feature' FOR UPDATE`, "UPDATE features",
			`mutation { updateFeature(input: {id: "` + id + `", name: "changed"}) { feature { name } } }`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tx, err := db.DB.Pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(ctx)
			if _, err := tx.Exec(ctx, tc.lock); err != nil {
				t.Fatal(err)
			}
			resc := make(chan *gqlResponse, 1)
			start := time.Now()
			go func() { resc <- s.post(t, tc.query, nil) }()
			// The statement reaches PostgreSQL and waits for the lock...
			waitFor(t, 5*time.Second, "the statement to wait for the lock", func() bool { return blocked(t, tc.statement) > 0 })
			// ...the timeout answers the client...
			r := <-resc
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Fatalf("answered after %s", elapsed)
			}
			if len(r.Errors) == 0 || r.code() != "TIMEOUT" || r.Errors[0].Extensions["limit"] != "timeout" {
				t.Fatalf("want a TIMEOUT error, got %d: %s", r.Status, r.raw)
			}
			// ...and PostgreSQL stops the statement while the lock is
			// still held: nobody is left waiting.
			waitFor(t, 5*time.Second, "the statement to be cancelled", func() bool { return blocked(t, tc.statement) == 0 })
		})
	}
	var name string
	if err := db.DB.Pool.QueryRow(ctx, `SELECT name FROM features`).Scan(&name); err != nil || name != "locked feature" {
		t.Fatalf("the cancelled update wrote: %q %v", name, err)
	}
	if !strings.Contains(s.logs.String(), "operation timed out") {
		t.Fatalf("no timeout logged:\n%s", s.logs)
	}
	// The pool's connections survived the cancellations.
	wantOK(t, s.post(t, `{ features { totalCount } }`, nil))
}

// waitFor polls cond until it holds; PostgreSQL's activity view has no
// notification to wait on.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rateLimitHeaders are the X-RateLimit-* headers of r.
type rateLimitHeaders struct{ limit, remaining, used, reset int64 }

func headersOf(t *testing.T, r *gqlResponse) rateLimitHeaders {
	t.Helper()
	var h rateLimitHeaders
	for name, dst := range map[string]*int64{"Limit": &h.limit, "Remaining": &h.remaining, "Used": &h.used, "Reset": &h.reset} {
		v, err := strconv.ParseInt(r.Header.Get("X-RateLimit-"+name), 10, 64)
		if err != nil {
			t.Fatalf("X-RateLimit-%s: %v (%s)", name, err, r.raw)
		}
		*dst = v
	}
	return h
}

const rateLimitQuery = `{ rateLimit { cost limit remaining resetAt } }`

// rateLimitOf runs rateLimitQuery on s and checks that the field and the
// headers agree.
func rateLimitOf(t *testing.T, s *testServer) (remaining int, h rateLimitHeaders) {
	t.Helper()
	r := s.post(t, rateLimitQuery, nil)
	wantOK(t, r)
	var out struct {
		RateLimit struct {
			Cost, Limit, Remaining int
			ResetAt                time.Time
		}
	}
	if err := json.Unmarshal(r.Data, &out); err != nil {
		t.Fatal(err)
	}
	rl := out.RateLimit
	h = headersOf(t, r)
	if rl.Cost != 1 || int64(rl.Limit) != h.limit || int64(rl.Remaining) != h.remaining ||
		h.used != h.limit-h.remaining || rl.ResetAt.Unix() != h.reset {
		t.Fatalf("field %+v and headers %+v disagree", rl, h)
	}
	return rl.Remaining, h
}

func TestRateLimitCountsDownAcrossRequests(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"in-process", "redis"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"SHIPGRAPH_RATE_LIMIT": "100"}
			if backend == "redis" {
				url := redistest.URL(t)
				env["REDIS_URL"], env["SHIPGRAPH_REDIS_PREFIX"] = url, redistest.Prefix(t, url)
			}
			s := startServer(t, env)
			for want := 99; want >= 97; want-- {
				remaining, h := rateLimitOf(t, s)
				if remaining != want || h.limit != 100 {
					t.Fatalf("remaining %d, want %d (%+v)", remaining, want, h)
				}
				if reset := time.Unix(h.reset, 0); reset.Before(time.Now()) || reset.After(time.Now().Add(time.Hour)) {
					t.Fatalf("resets at %s", reset)
				}
			}
			// 100 features with 5 builds each: 600 nodes, 6 points.
			r := s.post(t, `{ features(first: 100) { nodes { builds(first: 5) { totalCount } } } }`, nil)
			wantOK(t, r)
			if h := headersOf(t, r); h.remaining != 91 || h.used != 9 {
				t.Fatalf("after a 6-point query: %+v", h)
			}
		})
	}
}

func TestRateLimitRefusesOnceSpent(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"SHIPGRAPH_RATE_LIMIT": "12"})
	// 100 features with 10 builds each: 1,100 nodes, 11 points.
	expensive := `{ features(first: 100) { nodes { builds(first: 10) { totalCount } } } }`
	rateLimitOf(t, s)
	rateLimitOf(t, s) // 10 left: the expensive query does not fit...
	r := s.post(t, expensive, nil)
	if r.Status != http.StatusTooManyRequests || r.code() != "RATE_LIMITED" || r.Errors[0].Extensions["cost"] != float64(11) {
		t.Fatalf("want 429 RATE_LIMITED, got %d: %s", r.Status, r.raw)
	}
	if n := s.statementsOf(t, r.Header.Get("X-Request-ID")); n != 0 {
		t.Fatalf("a rate-limited query ran %d statements", n)
	}
	// ...and costs nothing: cheaper operations still fit.
	for want := 9; want >= 0; want-- {
		if remaining, _ := rateLimitOf(t, s); remaining != want {
			t.Fatalf("remaining %d, want %d", remaining, want)
		}
	}
	// Spent: a mutation is refused and writes nothing.
	name := "rate limited " + strconv.FormatInt(time.Now().UnixNano(), 36)
	r = s.post(t, `mutation($name: String!) { createFeature(input: {name: $name, complexityPoints: 1}) { feature { id } } }`, map[string]any{"name": name})
	if r.Status != http.StatusTooManyRequests || r.code() != "RATE_LIMITED" {
		t.Fatalf("want 429 RATE_LIMITED, got %d: %s", r.Status, r.raw)
	}
	if h := headersOf(t, r); h.remaining != 0 || h.used != 12 {
		t.Fatalf("headers %+v", h)
	}
	retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
	if err != nil || retry < 1 || retry > 3600 {
		t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	if n := countFeatures(t, name); n != 0 {
		t.Fatalf("a rate-limited mutation created %d features", n)
	}
}

func TestRateLimitIsSharedThroughRedis(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	env := map[string]string{"SHIPGRAPH_RATE_LIMIT": "4", "REDIS_URL": url, "SHIPGRAPH_REDIS_PREFIX": redistest.Prefix(t, url)}
	a, b := startServer(t, env), startServer(t, env)
	for i, s := range []*testServer{a, b, a, b} {
		if remaining, _ := rateLimitOf(t, s); remaining != 3-i {
			t.Fatalf("request %d: remaining %d, want %d", i, remaining, 3-i)
		}
	}
	for _, s := range []*testServer{a, b} {
		if r := s.post(t, rateLimitQuery, nil); r.Status != http.StatusTooManyRequests || r.code() != "RATE_LIMITED" {
			t.Fatalf("want 429 RATE_LIMITED, got %d: %s", r.Status, r.raw)
		}
	}
}

func TestRateLimitWithoutRedisIsPerInstance(t *testing.T) {
	t.Parallel()
	env := map[string]string{"SHIPGRAPH_RATE_LIMIT": "2"}
	a, b := startServer(t, env), startServer(t, env)
	for _, s := range []*testServer{a, b} {
		rateLimitOf(t, s)
		if remaining, _ := rateLimitOf(t, s); remaining != 0 {
			t.Fatalf("remaining %d, want 0", remaining)
		}
		if r := s.post(t, rateLimitQuery, nil); r.code() != "RATE_LIMITED" {
			t.Fatalf("want RATE_LIMITED, got %s", r.raw)
		}
	}
}

// TestRateLimitSurvivesRedisDown points the server at a port nothing
// listens on: it starts, answers promptly, and limits in process.
func TestRateLimitSurvivesRedisDown(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"SHIPGRAPH_RATE_LIMIT": "3", "REDIS_URL": redistest.UnreachableURL(t)})
	for want := 2; want >= 0; want-- {
		start := time.Now()
		remaining, _ := rateLimitOf(t, s)
		if elapsed := time.Since(start); elapsed > 2*time.Second {
			t.Fatalf("a request took %s with Redis down", elapsed)
		}
		if remaining != want {
			t.Fatalf("remaining %d, want %d", remaining, want)
		}
	}
	if r := s.post(t, rateLimitQuery, nil); r.code() != "RATE_LIMITED" {
		t.Fatalf("want RATE_LIMITED, got %s", r.raw)
	}
	for _, line := range []string{"redis unreachable", "rate limit counter unavailable"} {
		if !strings.Contains(s.logs.String(), line) {
			t.Fatalf("no %q in the log:\n%s", line, s.logs)
		}
	}
}
