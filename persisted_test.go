package main

// Persisted queries end to end: Automatic Persisted Queries as Apollo
// clients speak them (in one process, and shared through Redis), and
// trusted documents mode over every transport.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shipgraph/shipgraph/internal/persisted"
	"github.com/shipgraph/shipgraph/internal/redistest"
)

// pqExtension is extensions.persistedQuery for query's hash.
func pqExtension(hash string) map[string]any {
	return map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
}

// postJSON sends body as a JSON POST to /graphql, as the test admin.
func (s *testServer) postJSON(t *testing.T, body map[string]any) *gqlResponse {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return s.send(t, http.MethodPost, "application/json", "", b)
}

// getParams sends a GET to /graphql with params, JSON-encoding the
// non-string ones as Apollo's GET requests do.
func (s *testServer) getParams(t *testing.T, params map[string]any) *gqlResponse {
	t.Helper()
	q := url.Values{}
	for k, v := range params {
		if str, ok := v.(string); ok {
			q.Set(k, str)
			continue
		}
		b, _ := json.Marshal(v)
		q.Set(k, string(b))
	}
	return s.get(t, q)
}

// wantFeatureCount checks that r ran and returns its features.totalCount.
func wantFeatureCount(t *testing.T, r *gqlResponse) int {
	t.Helper()
	wantOK(t, r)
	var out struct{ Features struct{ TotalCount *int } }
	if err := json.Unmarshal(r.Data, &out); err != nil || out.Features.TotalCount == nil {
		t.Fatalf("no features.totalCount in %s", r.raw)
	}
	return *out.Features.TotalCount
}

// wantRefused checks that r is an error with code that ran no SQL.
func wantRefused(t *testing.T, s *testServer, r *gqlResponse, code string) {
	t.Helper()
	wantError(t, r, code, "")
	if len(r.Data) > 0 && string(r.Data) != "null" {
		t.Fatalf("refused, yet data: %s", r.raw)
	}
	if n := s.statementsOf(t, r.Header.Get("X-Request-ID")); n != 0 {
		t.Fatalf("a refused operation ran %d SQL statements", n)
	}
}

func TestAutomaticPersistedQueries(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"SHIPGRAPH_APQ_MAX_QUERY_BYTES": "200"})
	// Unique to the test, so that no other test registered it.
	query := `query APQ { features(first: 1, filter: {search: "` + token(t) + `"}) { totalCount } }`
	hash := persisted.Hash(query)

	t.Run("the Apollo flow over POST", func(t *testing.T) {
		r := s.postJSON(t, map[string]any{"extensions": pqExtension(hash)})
		wantRefused(t, s, r, "PERSISTED_QUERY_NOT_FOUND")
		if r.Errors[0].Message != "PersistedQueryNotFound" {
			t.Fatalf("message %q: Apollo's links match PersistedQueryNotFound", r.Errors[0].Message)
		}
		wantFeatureCount(t, s.postJSON(t, map[string]any{"query": query, "extensions": pqExtension(hash)}))
		wantFeatureCount(t, s.postJSON(t, map[string]any{"extensions": pqExtension(hash)}))
		// Hex digits in upper case name the same query.
		wantFeatureCount(t, s.postJSON(t, map[string]any{"extensions": pqExtension(strings.ToUpper(hash))}))
		// documentId names registered queries too.
		wantFeatureCount(t, s.postJSON(t, map[string]any{"documentId": "sha256:" + hash}))
	})

	t.Run("a hash that is not the query's is refused", func(t *testing.T) {
		other := `{ features(first: 2) { totalCount } }`
		r := s.postJSON(t, map[string]any{"query": other, "extensions": pqExtension(hash)})
		wantError(t, r, "BAD_USER_INPUT", "extensions.persistedQuery.sha256Hash")
		// and the wrong pairing was not registered: the hash still runs its own query.
		r = s.postJSON(t, map[string]any{"extensions": pqExtension(hash), "operationName": "APQ"})
		wantFeatureCount(t, r)
	})

	t.Run("malformed extensions are refused", func(t *testing.T) {
		for name, ext := range map[string]any{
			"version 2":  map[string]any{"persistedQuery": map[string]any{"version": 2, "sha256Hash": hash}},
			"short hash": pqExtension("abc"),
			"not hex":    pqExtension(strings.Repeat("z", 64)),
			"not object": map[string]any{"persistedQuery": "yes"},
		} {
			r := s.postJSON(t, map[string]any{"extensions": ext})
			if r.code() != "BAD_USER_INPUT" || !strings.HasPrefix(r.field(), "extensions.persistedQuery") {
				t.Fatalf("%s: %s", name, r.raw)
			}
		}
		r := s.postJSON(t, map[string]any{"documentId": "md5:abc"})
		wantError(t, r, "BAD_USER_INPUT", "documentId")
	})

	t.Run("GET as Apollo sends it", func(t *testing.T) {
		q := `query APQGet { features(first: 1, filter: {search: "` + token(t) + `"}) { totalCount } }`
		h := persisted.Hash(q)
		wantRefused(t, s, s.getParams(t, map[string]any{"extensions": pqExtension(h)}), "PERSISTED_QUERY_NOT_FOUND")
		wantFeatureCount(t, s.getParams(t, map[string]any{"query": q, "extensions": pqExtension(h)}))
		wantFeatureCount(t, s.getParams(t, map[string]any{"extensions": pqExtension(h)}))
		wantFeatureCount(t, s.getParams(t, map[string]any{"documentId": h}))
	})

	t.Run("a registered mutation still never runs over GET", func(t *testing.T) {
		name := "apq-" + token(t)
		m := `mutation($n: String!) { createFeature(input: {name: $n, complexityPoints: 1}) { feature { id } } }`
		h := persisted.Hash(m)
		wantOK(t, s.postJSON(t, map[string]any{"query": m, "extensions": pqExtension(h), "variables": map[string]any{"n": name}}))
		r := s.getParams(t, map[string]any{"extensions": pqExtension(h), "variables": map[string]any{"n": name}})
		if r.Status != http.StatusMethodNotAllowed {
			t.Fatalf("status %d: %s", r.Status, r.raw)
		}
		if n := s.countFeatures(t, name); n != 1 {
			t.Fatalf("%d features named %s, want the one POST created", n, name)
		}
	})

	t.Run("only queries that validate are registered", func(t *testing.T) {
		bad := `{ features(first: 1) { noSuchField } }`
		h := persisted.Hash(bad)
		r := s.postJSON(t, map[string]any{"query": bad, "extensions": pqExtension(h)})
		if r.code() != "GRAPHQL_VALIDATION_FAILED" {
			t.Fatalf("got %s", r.raw)
		}
		wantRefused(t, s, s.postJSON(t, map[string]any{"extensions": pqExtension(h)}), "PERSISTED_QUERY_NOT_FOUND")
	})

	t.Run("anonymous callers run registered queries but register none", func(t *testing.T) {
		anon := func(body map[string]any) *gqlResponse {
			b, _ := json.Marshal(body)
			req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(string(b)))
			req.Header.Set("Content-Type", "application/json")
			return doAnonymous(t, req)
		}
		q := `query Anonymous { __typename }` + " # " + token(t)
		h := persisted.Hash(q)
		wantOK(t, anon(map[string]any{"query": q, "extensions": pqExtension(h)}))
		wantRefused(t, s, s.postJSON(t, map[string]any{"extensions": pqExtension(h)}), "PERSISTED_QUERY_NOT_FOUND")
		wantOK(t, s.postJSON(t, map[string]any{"query": q, "extensions": pqExtension(h)}))
		wantOK(t, anon(map[string]any{"extensions": pqExtension(h)}))
	})

	t.Run("a query over the size bound is not registered", func(t *testing.T) {
		big := `query Big { features(first: 1, filter: {search: "` + strings.Repeat("x", 200) + `"}) { totalCount } }`
		h := persisted.Hash(big)
		r := s.postJSON(t, map[string]any{"query": big, "extensions": pqExtension(h)})
		wantError(t, r, "BAD_USER_INPUT", "")
		if !strings.Contains(r.Errors[0].Message, "200") {
			t.Fatalf("the message does not name the bound: %s", r.raw)
		}
		wantRefused(t, s, s.postJSON(t, map[string]any{"extensions": pqExtension(h)}), "PERSISTED_QUERY_NOT_FOUND")
		// Sent as plain text it runs: the bound is on what is kept.
		wantFeatureCount(t, s.postJSON(t, map[string]any{"query": big}))
	})
}

// Instances sharing Redis share registered queries; a query run by hash
// still meets the limits of the instance that runs it.
func TestPersistedQueriesAreSharedThroughRedis(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	env := map[string]string{"REDIS_URL": url, "SHIPGRAPH_REDIS_PREFIX": redistest.Prefix(t, url)}
	a, b := startServer(t, env), startServer(t, env)
	strict := startServer(t, withEnv(env, map[string]string{"SHIPGRAPH_MAX_DEPTH": "2"}))

	query := `{ features(first: 1, filter: {search: "` + token(t) + `"}) { totalCount } }`
	hash := persisted.Hash(query)
	wantRefused(t, b, b.postJSON(t, map[string]any{"extensions": pqExtension(hash)}), "PERSISTED_QUERY_NOT_FOUND")
	wantFeatureCount(t, a.postJSON(t, map[string]any{"query": query, "extensions": pqExtension(hash)}))
	wantFeatureCount(t, b.postJSON(t, map[string]any{"extensions": pqExtension(hash)}))
	wantFeatureCount(t, b.getParams(t, map[string]any{"extensions": pqExtension(hash)}))

	// Depth 3 (features, totalCount … nodes, name) is over strict's 2.
	deep := `{ features(first: 1) { nodes { name } } }`
	deepHash := persisted.Hash(deep)
	wantOK(t, a.postJSON(t, map[string]any{"query": deep, "extensions": pqExtension(deepHash)}))
	wantLimitError(t, strict, strict.postJSON(t, map[string]any{"extensions": pqExtension(deepHash)}), "depth", 2)
}

func TestPersistedQueriesWithoutRedisStayInTheProcess(t *testing.T) {
	t.Parallel()
	a, b := startServer(t, nil), startServer(t, nil)
	query := `{ features(first: 1, filter: {search: "` + token(t) + `"}) { totalCount } }`
	hash := persisted.Hash(query)
	wantFeatureCount(t, a.postJSON(t, map[string]any{"query": query, "extensions": pqExtension(hash)}))
	wantFeatureCount(t, a.postJSON(t, map[string]any{"extensions": pqExtension(hash)}))
	wantRefused(t, b, b.postJSON(t, map[string]any{"extensions": pqExtension(hash)}), "PERSISTED_QUERY_NOT_FOUND")
}

// The documents of the trusted documents tests.
const (
	trustedQuery    = `query Trusted { features(first: 1) { totalCount } }`
	trustedMutation = `mutation Create($n: String!) { createFeature(input: {name: $n, complexityPoints: 2}) { feature { id } } }`
)

// writeManifest writes data to a file of the test and returns its path.
func writeManifest(t *testing.T, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "manifest.json")
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// apolloManifestOf is an Apollo persisted query manifest of docs.
func apolloManifestOf(t *testing.T, docs ...string) string {
	t.Helper()
	var ops []map[string]string
	for _, d := range docs {
		ops = append(ops, map[string]string{"id": persisted.Hash(d), "name": "op", "type": "query", "body": d})
	}
	b, _ := json.Marshal(map[string]any{"format": "apollo-persisted-query-manifest", "version": 1, "operations": ops})
	return string(b)
}

func TestTrustedDocuments(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"SHIPGRAPH_TRUSTED_DOCUMENTS": writeManifest(t, apolloManifestOf(t, trustedQuery, trustedMutation))})
	hash := persisted.Hash(trustedQuery)
	arbitrary := `{ features(first: 2) { totalCount } }`

	t.Run("POST: manifest operations run", func(t *testing.T) {
		wantFeatureCount(t, s.postJSON(t, map[string]any{"query": trustedQuery}))
		wantFeatureCount(t, s.postJSON(t, map[string]any{"extensions": pqExtension(hash)}))
		wantFeatureCount(t, s.postJSON(t, map[string]any{"query": trustedQuery, "extensions": pqExtension(hash)}))
		wantFeatureCount(t, s.postJSON(t, map[string]any{"documentId": "sha256:" + hash}))
		wantFeatureCount(t, s.postJSON(t, map[string]any{"documentId": hash}))
		name := "trusted-" + token(t)
		wantOK(t, s.postJSON(t, map[string]any{"documentId": "sha256:" + persisted.Hash(trustedMutation), "variables": map[string]any{"n": name}}))
		if n := countFeatures(t, name); n != 1 {
			t.Fatalf("the trusted mutation created %d features", n)
		}
	})

	t.Run("POST: anything else is refused before it runs", func(t *testing.T) {
		wantRefused(t, s, s.postJSON(t, map[string]any{"query": arbitrary}), "PERSISTED_QUERY_NOT_ALLOWED")
		wantRefused(t, s, s.postJSON(t, map[string]any{"query": graphiqlIntrospectionQuery(t)}), "PERSISTED_QUERY_NOT_ALLOWED")
		name := "untrusted-" + token(t)
		r := s.postJSON(t, map[string]any{"query": strings.Replace(trustedMutation, "complexityPoints: 2", "complexityPoints: 3", 1), "variables": map[string]any{"n": name}})
		wantRefused(t, s, r, "PERSISTED_QUERY_NOT_ALLOWED")
		// Registering by APQ is off: the hash stays unknown.
		h := persisted.Hash(arbitrary)
		wantRefused(t, s, s.postJSON(t, map[string]any{"query": arbitrary, "extensions": pqExtension(h)}), "PERSISTED_QUERY_NOT_ALLOWED")
		wantRefused(t, s, s.postJSON(t, map[string]any{"extensions": pqExtension(h)}), "PERSISTED_QUERY_NOT_ALLOWED")
		wantRefused(t, s, s.postJSON(t, map[string]any{"documentId": "sha256:" + h}), "PERSISTED_QUERY_NOT_ALLOWED")
		// A trusted hash does not vouch for another text.
		r = s.postJSON(t, map[string]any{"query": arbitrary, "extensions": pqExtension(hash)})
		wantError(t, r, "BAD_USER_INPUT", "extensions.persistedQuery.sha256Hash")
		if n := countFeatures(t, name); n != 0 {
			t.Fatalf("a refused mutation created %d features", n)
		}
	})

	t.Run("GET", func(t *testing.T) {
		wantFeatureCount(t, s.getParams(t, map[string]any{"documentId": "sha256:" + hash}))
		wantFeatureCount(t, s.getParams(t, map[string]any{"extensions": pqExtension(hash)}))
		wantFeatureCount(t, s.getParams(t, map[string]any{"query": trustedQuery}))
		wantRefused(t, s, s.getParams(t, map[string]any{"query": arbitrary}), "PERSISTED_QUERY_NOT_ALLOWED")
		r := s.getParams(t, map[string]any{"documentId": "sha256:" + persisted.Hash(trustedMutation), "variables": map[string]any{"n": "via GET"}})
		if r.Status != http.StatusMethodNotAllowed {
			t.Fatalf("a trusted mutation over GET: %d %s", r.Status, r.raw)
		}
	})

	t.Run("graphql-transport-ws", func(t *testing.T) {
		c := s.ackedClient(t)
		payload, _ := json.Marshal(map[string]any{"extensions": pqExtension(hash)})
		c.send(wsMessage{ID: "1", Type: "subscribe", Payload: payload})
		m := c.expect("next")
		var ok struct {
			Data   struct{ Features struct{ TotalCount *int } }
			Errors []any
		}
		if json.Unmarshal(m.Payload, &ok); ok.Data.Features.TotalCount == nil || len(ok.Errors) > 0 {
			t.Fatalf("trusted query by hash: %s", m.Payload)
		}
		c.expect("complete")
		payload, _ = json.Marshal(map[string]any{"query": arbitrary})
		c.send(wsMessage{ID: "2", Type: "subscribe", Payload: payload})
		m = c.expect("next")
		var refused struct {
			Data   any
			Errors []struct {
				Message    string
				Extensions map[string]any
			}
		}
		json.Unmarshal(m.Payload, &refused)
		if refused.Data != nil || len(refused.Errors) != 1 || refused.Errors[0].Extensions["code"] != "PERSISTED_QUERY_NOT_ALLOWED" {
			t.Fatalf("arbitrary query: %s", m.Payload)
		}
		c.expect("complete")
	})

	t.Run("SSE", func(t *testing.T) {
		if data := sseNext(t, s, map[string]any{"extensions": pqExtension(hash)}); !strings.Contains(data, `"totalCount"`) || strings.Contains(data, `"errors"`) {
			t.Fatalf("trusted query by hash: %s", data)
		}
		if data := sseNext(t, s, map[string]any{"query": arbitrary}); !strings.Contains(data, `"PERSISTED_QUERY_NOT_ALLOWED"`) || strings.Contains(data, `"totalCount"`) {
			t.Fatalf("arbitrary query: %s", data)
		}
	})

	t.Run("GraphiQL is off and says why", func(t *testing.T) {
		res, body := fetch(t, s.URL+"/", "")
		if res.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "SHIPGRAPH_TRUSTED_DOCUMENTS") {
			t.Fatalf("GET /: %d %s", res.StatusCode, body)
		}
	})
}

// sseNext sends body over Server-Sent Events and returns the data of the
// first "next" event.
func sseNext(t *testing.T, s *testServer, body map[string]any) string {
	t.Helper()
	res := postSSE(t, s, body)
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	event := ""
	for sc.Scan() {
		line := sc.Text()
		if ev, ok := strings.CutPrefix(line, "event: "); ok {
			event = ev
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok && event == "next" {
			return data
		}
	}
	t.Fatalf("no next event (status %d)", res.StatusCode)
	return ""
}

func TestTrustedDocumentsPlainMapManifest(t *testing.T) {
	t.Parallel()
	b, _ := json.Marshal(map[string]string{persisted.Hash(trustedQuery): trustedQuery})
	s := startServer(t, map[string]string{"SHIPGRAPH_TRUSTED_DOCUMENTS": writeManifest(t, string(b))})
	wantFeatureCount(t, s.postJSON(t, map[string]any{"documentId": "sha256:" + persisted.Hash(trustedQuery)}))
	wantRefused(t, s, s.postJSON(t, map[string]any{"query": trustedMutation}), "PERSISTED_QUERY_NOT_ALLOWED")
}

func TestAnInvalidManifestRefusesStartup(t *testing.T) {
	t.Parallel()
	wrongID := persisted.Hash("something else")
	bad := writeManifest(t, `{"`+wrongID+`": "`+trustedQuery+`"}`)
	want := "trusted documents " + bad + `: entry "` + wrongID + `": id "` + wrongID + `" is not the SHA-256 of its document`

	_, _, err := runWith(t, map[string]string{"JWT_SECRET_KEY": testJWTSecret, "SHIPGRAPH_TRUSTED_DOCUMENTS": bad}, "serve", "--addr", "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("run: %v, want %q", err, want)
	}
	_, _, err = runWith(t, map[string]string{"JWT_SECRET_KEY": testJWTSecret, "SHIPGRAPH_TRUSTED_DOCUMENTS": filepath.Join(t.TempDir(), "none.json")}, "serve", "--addr", "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), "none.json") {
		t.Fatalf("missing manifest: %v", err)
	}

	// The binary, as an operator starts it: exit status 1 and the reason.
	bin := serverBinary(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve")
	cmd.Env = append(inheritedEnv(), "SHIPGRAPH_ADDR=127.0.0.1:0", "SHIPGRAPH_ENV_FILE=testdata/none.env",
		"JWT_SECRET_KEY="+testJWTSecret, "DATABASE_URL="+testDB.URL, "SHIPGRAPH_TRUSTED_DOCUMENTS="+bad)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "shipgraph: "+want) {
		t.Fatalf("exit %v, output:\n%s", err, out)
	}
}

// With Redis down, a lookup is a miss and registering falls back to this
// instance: clients send their text again, and no request fails.
func TestPersistedQueriesSurviveRedisDown(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"REDIS_URL": redistest.UnreachableURL(t)})
	query := `{ features(first: 1, filter: {search: "` + token(t) + `"}) { totalCount } }`
	hash := persisted.Hash(query)
	wantRefused(t, s, s.postJSON(t, map[string]any{"extensions": pqExtension(hash)}), "PERSISTED_QUERY_NOT_FOUND")
	wantFeatureCount(t, s.postJSON(t, map[string]any{"query": query, "extensions": pqExtension(hash)}))
	wantFeatureCount(t, s.postJSON(t, map[string]any{"extensions": pqExtension(hash)}))
	for _, line := range []string{"persisted query lookup failed", "persisted query not shared"} {
		if !strings.Contains(s.logs.String(), line) {
			t.Fatalf("no %q in the log:\n%s", line, s.logs)
		}
	}
}

func TestPersistedQuerySettingsAreValidated(t *testing.T) {
	t.Parallel()
	for name, value := range map[string]string{
		"SHIPGRAPH_APQ_TTL":             "-1h",
		"SHIPGRAPH_APQ_CACHE_SIZE":      "0",
		"SHIPGRAPH_APQ_MAX_QUERY_BYTES": "lots",
	} {
		_, err := loadConfig(func(k string) string {
			if k == name {
				return value
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: err %v", name, value, err)
		}
	}
	cfg, err := loadConfig(func(string) string { return "" })
	if err != nil || cfg.APQTTL != 24*time.Hour || cfg.APQCacheSize != persisted.DefaultCacheSize || cfg.APQMaxQueryBytes != persisted.DefaultMaxQueryBytes || cfg.TrustedDocuments != "" {
		t.Fatalf("defaults: %+v, %v", cfg, err)
	}
}
