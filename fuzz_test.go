package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shipgraph/shipgraph/internal/auth"
	"github.com/shipgraph/shipgraph/internal/pgtest"
	"github.com/shipgraph/shipgraph/internal/postgres"
	"github.com/shipgraph/shipgraph/internal/seed"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// fuzzSeeds are the seed corpus besides testdata/fuzz/FuzzGraphQLEndpoint:
// valid reads and writes, each kind of malformed request, and the inputs
// attackers try first.
var fuzzSeeds = []struct {
	query, variables, operationName string
	raw                             string
	auth                            byte
}{
	{`{ features(first: 3) { totalCount nodes { id name testCases(first: 2) { nodes { title } } } } }`, ``, ``, `{"query":"{ features { totalCount } }"}`, 0},
	{`query Q($id: ID!) { node(id: $id) { id ... on Feature { name builds(first: 2) { nodes { number deployments { nodes { environment events { nodes { sequence } } } } } } } } }`, `{"id":"` + shipgraph.EncodeID(shipgraph.KindFeature, 1) + `"}`, `Q`, `{"query":"query { node(id: \"RmVhdHVyZTox\") { id } }"}`, 1},
	{`mutation($in: CreateFeatureInput!) { createFeature(input: $in) { feature { id name } } }`, `{"in":{"name":"fuzz","complexityPoints":3}}`, ``, `{"query":"mutation { createFeature(input: {name: \"x\", complexityPoints: 99}) { feature { id } } }"}`, 0},
	{`mutation { deleteFeature(input: {id: "RmVhdHVyZToy"}) { deletedFeatureId } }`, ``, ``, `{"query": "mutation { createBuild(input: {featureId: \"RmVhdHVyZTox\", commitSha: \"zz\", branch: \"..\"}) { build { id } } }"}`, 1},
	{`query A { features { totalCount } } mutation B { createFeature(input: {name: "op", complexityPoints: 1}) { feature { id } } }`, `{}`, `B`, `[{"query":"{ __typename }"}]`, 2},
	{`{ __schema { types { name fields { name } } } }`, `null`, ``, `{"query":"{ __type(name: \"Feature\") { name } }","variables":[]}`, 0},
	{`{ features(first: 101, after: "bm90IGEgY3Vyc29y") { totalCount } }`, ``, ``, `{"query":"{ features(last: -1) { totalCount } }","extensions":{"persistedQuery":{"version":1,"sha256Hash":"abc"}}}`, 0},
	{`query($s: String) { features(filter: {search: $s}) { totalCount } builds(filter: {branch: $s}) { totalCount } }`, `{"s":"' OR 1=1 --"}`, ``, `{"query":"{ deployments(filter: {environment: \"'; DROP TABLE features; --\"}) { totalCount } }"}`, 0},
	{`query($s: String) { features(filter: {search: $s}) { totalCount } }`, `{"s":"\u0000%_\\"}`, ``, "{\"query\":\"{ features(filter: {search: \\\"\\u0000\\\"}) { totalCount } }\"}", 0},
	{`query($n: Int) { features(first: $n) { totalCount } }`, `{"n": 1e400}`, ``, `{"query":"query($n: Int) { features(first: $n) { totalCount } }","variables":{"n":"3"}}`, 0},
	{`{ features { nodes { ...F } } } fragment F on Feature { ...F }`, ``, ``, `{"query":"{ a: __typename b: __typename }","operationName":7}`, 0},
	{`{ features(first: 1) { nodes { builds(first: 1) { nodes { feature { builds(first: 1) { nodes { feature { name } } } } } } } } }`, ``, ``, `{"query": "{ features { totalCount } ", "variables": {"a": {"b": [1, 2, {"c": null}]}}}`, 0},
	{`{ features(filter: {statu: DRAF}) { totalCount nam } }`, ``, ``, `not json at all`, 0},
	{"{ features(filter: {search: \"\xff\xfe\"}) { totalCount } }", "{\"s\":\"\xff\"}", "\xff", "{\"query\":\"\xff\"}", 0},
	{`subscription { features { totalCount } }`, ``, ``, `{"query":"","variables":{}}`, 0},
	{``, ``, ``, ``, 2},
	{`{ rateLimit { cost limit remaining resetAt } }`, ``, ``, `{"query":"{ rateLimit { remaining } }"}`, 1},
	{`{ features(first: 1) { totalCount } }`, ``, `eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4Iiwicm9sZXMiOlsiYWRtaW4iXX0.`, `{"query":"mutation { createFeature(input: {name: \"forged\", complexityPoints: 1}) { feature { id } } }"}`, 3},
	{`{ features(first: 1) { totalCount } }`, ``, ``, `{"query":"{ features { totalCount } }"}`, 3},
	{`{ ` + strings.Repeat(`a: features(first: 100) { totalCount } `, 40) + `}`, ``, ``, `{"query":"` + strings.Repeat(`{`, 500) + `"}`, 0},
	// Exponential fan-out, which took 14 GB before the operation limits:
	// refused by depth, and by node count within the depth.
	{`{ features { nodes { ` + strings.Repeat(`builds { nodes { feature { `, 20) + `name` + strings.Repeat(` } } }`, 20) + ` } } }`, ``, ``,
		`{"query":"{ features(first: 100) { nodes { builds(first: 100) { nodes { deployments(first: 100) { nodes { events(first: 100) { nodes { message } } } } } } } } }"}`, 0},
}

// fuzzLeaks are what a response must never show unless the request itself
// contained it (error messages may quote the client's input).
var fuzzLeaks = []string{"runtime error", "goroutine", "panic", "pgx", "pgconn", "SQLSTATE", "syntax error at", ".go:", "INTERNAL_SERVER_ERROR"}

// fuzzStatuses are the statuses the endpoint may answer with.
var fuzzStatuses = map[int]bool{
	http.StatusOK:                    true, // executed, or a validation error as application/json
	http.StatusBadRequest:            true, // unreadable request, or a request error as graphql-response+json
	http.StatusUnauthorized:          true, // a bad token
	http.StatusMethodNotAllowed:      true, // a mutation over GET
	http.StatusRequestEntityTooLarge: true,
	http.StatusUnsupportedMediaType:  true,
	http.StatusTooManyRequests:       true, // rate limited
}

// newFuzzHandler returns the whole API, in process, over a database of its
// own with a little seed data: fuzzed mutations (deleteFeature of ID 1…)
// must not touch the rows of tests running beside it.
func newFuzzHandler(f *testing.F) http.Handler {
	f.Helper()
	ctx := context.Background()
	db, err := pgtest.Create(ctx, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		if err := db.Drop(context.Background()); err != nil {
			f.Error(err)
		}
	})
	if _, err := seed.Run(ctx, db.DB.Pool, seed.Options{Features: 5}); err != nil {
		f.Fatal(err)
	}
	// The operation limits stay at their defaults: they are part of what
	// is fuzzed. The rate limit is lifted, or the fuzzer would spend its
	// time hitting it.
	cfg, err := loadConfig(func(k string) string {
		if k == "SHIPGRAPH_RATE_LIMIT" {
			return "1000000000"
		}
		return ""
	})
	if err != nil {
		f.Fatal(err)
	}
	return NewServer(serverDeps{
		Logger:  slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Store:   postgres.NewStore(db.DB),
		Ready:   db.DB,
		Config:  cfg,
		Version: "fuzz",
		Auth:    testAuth,
	})
}

// FuzzGraphQLEndpoint sends arbitrary queries, variables, operation names
// and raw bodies to /graphql over POST and GET, as an admin, a viewer,
// anonymously or with an arbitrary token, and checks that every answer is
// one a client can handle: an expected status, never a 5xx, valid JSON,
// and no internal detail. Its seed corpus runs with every `go test`; run
// `go test -run '^$' -fuzz FuzzGraphQLEndpoint -fuzztime 60s .` to explore.
func FuzzGraphQLEndpoint(f *testing.F) {
	h := newFuzzHandler(f)
	viewer, err := testAuth.Mint("fuzz-viewer", []auth.Role{auth.RoleViewer}, 24*time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range fuzzSeeds {
		f.Add(s.query, s.variables, s.operationName, []byte(s.raw), s.auth)
	}
	f.Fuzz(func(t *testing.T, query, variables, operationName string, raw []byte, who byte) {
		input := strings.Join([]string{query, variables, operationName, string(raw)}, "\x00")
		authorization := ""
		switch who % 4 {
		case 0:
			authorization = "Bearer " + adminToken()
		case 1:
			authorization = "Bearer " + viewer
		case 3:
			// The JWT parser gets arbitrary tokens too.
			authorization = "Bearer " + operationName
		}
		for _, req := range fuzzRequests(query, variables, operationName, raw) {
			if authorization != "" {
				req.Header.Set("Authorization", authorization)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			checkFuzzResponse(t, req, rec, input)
		}
	})
}

// fuzzRequests are the requests one input makes: a well-formed POST built
// from its parts, its raw bytes as a POST body (answered with the spec's
// media type), and a GET with its parts as parameters.
func fuzzRequests(query, variables, operationName string, raw []byte) []*http.Request {
	body := map[string]any{"query": query}
	if operationName != "" {
		body["operationName"] = operationName
	}
	if variables != "" {
		if json.Valid([]byte(variables)) {
			body["variables"] = json.RawMessage(variables)
		} else {
			body["variables"] = variables // a string where an object belongs
		}
	}
	built, err := json.Marshal(body)
	if err != nil {
		built = []byte(`{}`)
	}
	post := func(b []byte, accept string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(b))
		r.Header.Set("Content-Type", "application/json")
		if accept != "" {
			r.Header.Set("Accept", accept)
		}
		return r
	}
	params := url.Values{"query": {query}}
	if variables != "" {
		params.Set("variables", variables)
	}
	if operationName != "" {
		params.Set("operationName", operationName)
	}
	return []*http.Request{
		post(built, ""),
		post(raw, "application/graphql-response+json"),
		httptest.NewRequest(http.MethodGet, "/graphql?"+params.Encode(), nil),
	}
}

// checkFuzzResponse asserts the invariants of every answer.
func checkFuzzResponse(t *testing.T, req *http.Request, rec *httptest.ResponseRecorder, input string) {
	t.Helper()
	body := rec.Body.Bytes()
	if !fuzzStatuses[rec.Code] {
		t.Fatalf("%s: status %d: %.1000s", req.Method, rec.Code, body)
	}
	if !json.Valid(body) {
		t.Fatalf("%s: status %d, body is not JSON: %.1000q", req.Method, rec.Code, body)
	}
	var resp struct {
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("%s: body is not a GraphQL response: %v: %.1000s", req.Method, err, body)
	}
	if rec.Code != http.StatusOK && len(resp.Errors) == 0 {
		t.Fatalf("%s: status %d without an error: %.1000s", req.Method, rec.Code, body)
	}
	for _, e := range resp.Errors {
		if e.Message == "" {
			t.Fatalf("%s: an error without a message: %.1000s", req.Method, body)
		}
	}
	for _, leak := range fuzzLeaks {
		if bytes.Contains(body, []byte(leak)) && !strings.Contains(input, leak) {
			t.Fatalf("%s: the response shows %q: %.1000s", req.Method, leak, body)
		}
	}
}
