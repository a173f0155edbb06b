package main

// End-to-end tests of the API: every test speaks real HTTP to a server
// started by run() (see startServer in server_test.go), except
// TestInternalErrorsLeakNothing, which wires NewServer to a store with
// injected faults. Tests share one database, so each creates its own data
// and narrows every listing to it with a random token.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/shipgraph/shipgraph/internal/postgres"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// ---------------------------------------------------------------------------
// Helpers

// token returns a random string that makes a test's names unique in the
// shared database.
func token(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// send sends one request to the GraphQL endpoint with the given method,
// content type, Accept header and body, and decodes the JSON answer.
func (s *testServer) send(t *testing.T, method, contentType, accept string, body []byte) *gqlResponse {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	return do(t, req)
}

// get sends a GraphQL GET request with the given URL parameters.
func (s *testServer) get(t *testing.T, params url.Values) *gqlResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.URL+"/graphql?"+params.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

// jsonBody is the JSON of a GraphQL request.
func jsonBody(t *testing.T, query string, vars map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// keys returns the top-level keys of a JSON object.
func keys(t *testing.T, raw []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not a JSON object: %s", raw)
	}
	return m
}

// field returns the extensions.field of the first error, or "".
func (r *gqlResponse) field() string {
	if len(r.Errors) == 0 {
		return ""
	}
	f, _ := r.Errors[0].Extensions["field"].(string)
	return f
}

// wantError checks that a request executed (200) and failed with code, on
// field when field is not "".
func wantError(t *testing.T, r *gqlResponse, code, field string) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.Status, r.raw)
	}
	if r.code() != code {
		t.Fatalf("code %q, want %q: %s", r.code(), code, r.raw)
	}
	if field != "" && r.field() != field {
		t.Fatalf("field %q, want %q: %s", r.field(), field, r.raw)
	}
	if r.Errors[0].Message == "" {
		t.Fatalf("error without a message: %s", r.raw)
	}
}

// countFeatures counts the features whose name or description contains search.
func (s *testServer) countFeatures(t *testing.T, search string) int {
	t.Helper()
	var out struct{ Features struct{ TotalCount int } }
	s.mustData(t, `query($s: String) { features(filter: {search: $s}) { totalCount } }`, map[string]any{"s": search}, &out)
	return out.Features.TotalCount
}

// apiFeature is a feature as the API returns it.
type apiFeature struct {
	ID               string
	Name             string
	Description      string
	ComplexityPoints int
	Status           string
	Version          int
}

const featureFields = `id name description complexityPoints status version`

// newFeature creates a feature with the given points and status.
func (s *testServer) newFeature(t *testing.T, name string, points int, status string) apiFeature {
	t.Helper()
	var out struct{ CreateFeature struct{ Feature apiFeature } }
	s.mustData(t, `mutation($in: CreateFeatureInput!) { createFeature(input: $in) { feature { `+featureFields+` } } }`,
		map[string]any{"in": map[string]any{"name": name, "complexityPoints": points, "status": status}}, &out)
	return out.CreateFeature.Feature
}

// newTestCase creates a test case and returns its id.
func (s *testServer) newTestCase(t *testing.T, featureID, title string) string {
	t.Helper()
	var out struct {
		CreateTestCase struct{ TestCase struct{ ID string } }
	}
	s.mustData(t, `mutation($f: ID!, $title: String!) { createTestCase(input: {featureId: $f, title: $title}) { testCase { id } } }`,
		map[string]any{"f": featureID, "title": title}, &out)
	return out.CreateTestCase.TestCase.ID
}

// apiBuild is a build as the API returns it.
type apiBuild struct {
	ID         string
	Number     int
	Branch     string
	CommitSha  string
	Status     string
	Version    int
	StartedAt  *string
	FinishedAt *string
}

const buildFields = `id number branch commitSha status version startedAt finishedAt`

// String shows the timestamps rather than their addresses, and makes two
// builds comparable.
func (b apiBuild) String() string {
	deref := func(p *string) string {
		if p == nil {
			return "null"
		}
		return *p
	}
	return fmt.Sprintf("{%s #%d %s@%s %s v%d started %s finished %s}",
		b.ID, b.Number, b.Branch, b.CommitSha, b.Status, b.Version, deref(b.StartedAt), deref(b.FinishedAt))
}

// newBuild creates a build of a feature.
func (s *testServer) newBuild(t *testing.T, featureID, branch string) apiBuild {
	t.Helper()
	var out struct{ CreateBuild struct{ Build apiBuild } }
	s.mustData(t, `mutation($f: ID!, $b: String!) { createBuild(input: {featureId: $f, commitSha: "abcdef1234567", branch: $b}) { build { `+buildFields+` } } }`,
		map[string]any{"f": featureID, "b": branch}, &out)
	return out.CreateBuild.Build
}

// setBuildStatus asks for a build status change and returns the response.
func (s *testServer) setBuildStatus(t *testing.T, id, status string, expectedVersion *int) *gqlResponse {
	t.Helper()
	in := map[string]any{"id": id, "status": status}
	if expectedVersion != nil {
		in["expectedVersion"] = *expectedVersion
	}
	return s.post(t, `mutation($in: UpdateBuildStatusInput!) { updateBuildStatus(input: $in) { build { `+buildFields+` } } }`,
		map[string]any{"in": in})
}

// key decodes a global ID of the given kind to its database key.
func key(t *testing.T, id string, kind shipgraph.Kind) int64 {
	t.Helper()
	k, err := shipgraph.DecodeID("id", id, kind)
	if err != nil {
		t.Fatalf("decode %q: %v", id, err)
	}
	return k
}

// insertDeployment inserts a deployment of a build, and one event of it,
// with SQL: the API has no mutation for them yet. It returns their global IDs.
func insertDeployment(t *testing.T, featureID, buildID, environment, status string) (deployment, event string) {
	t.Helper()
	ctx := context.Background()
	var depKey, evKey int64
	err := testDB.DB.Pool.QueryRow(ctx, `
		INSERT INTO deployments (build_id, feature_id, environment, status, progress, stages)
		VALUES ($1, $2, $3, $4, 40, '[{"name":"PRE_CHECKS","status":"SUCCEEDED"},{"name":"EXECUTE","status":"PENDING"}]')
		RETURNING id`,
		key(t, buildID, shipgraph.KindBuild), key(t, featureID, shipgraph.KindFeature), environment, status).Scan(&depKey)
	if err != nil {
		t.Fatalf("insert deployment: %v", err)
	}
	err = testDB.DB.Pool.QueryRow(ctx, `
		INSERT INTO deployment_events (deployment_id, sequence, stage, stage_status, status, progress, message)
		VALUES ($1, 1, 'PRE_CHECKS', 'SUCCEEDED', 'IN_PROGRESS', 40, 'pre-checks passed')
		RETURNING id`, depKey).Scan(&evKey)
	if err != nil {
		t.Fatalf("insert event: %v", err)
	}
	return shipgraph.EncodeID(shipgraph.KindDeployment, depKey), shipgraph.EncodeID(shipgraph.KindDeploymentEvent, evKey)
}

// missingID is a well-formed ID of a row that does not exist.
func missingID(kind shipgraph.Kind) string { return shipgraph.EncodeID(kind, 1<<62) }

// ---------------------------------------------------------------------------
// 1. GraphQL over HTTP

func TestGraphQLOverHTTP(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	const okQuery = `{ features(first: 1) { totalCount } }`
	const unknownField = `{ features(first: 1) { totalCount noSuchField } }`
	const syntaxError = `{ features(first: 1) { totalCount `

	t.Run("POST application/json runs a query", func(t *testing.T) {
		t.Parallel()
		r := s.send(t, http.MethodPost, "application/json", "", jsonBody(t, okQuery, nil))
		if r.Status != http.StatusOK || len(r.Errors) > 0 || len(r.Data) == 0 {
			t.Fatalf("%d %s", r.Status, r.raw)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("Content-Type %q", ct)
		}
	})

	t.Run("content type parameters are accepted", func(t *testing.T) {
		t.Parallel()
		r := s.send(t, http.MethodPost, "application/json; charset=utf-8", "", jsonBody(t, okQuery, nil))
		if r.Status != http.StatusOK || len(r.Errors) > 0 {
			t.Fatalf("%d %s", r.Status, r.raw)
		}
	})

	t.Run("Accept graphql-response+json gets that media type", func(t *testing.T) {
		t.Parallel()
		r := s.send(t, http.MethodPost, "application/json", "application/graphql-response+json, application/json;q=0.9", jsonBody(t, okQuery, nil))
		if r.Status != http.StatusOK || len(r.Errors) > 0 {
			t.Fatalf("%d %s", r.Status, r.raw)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/graphql-response+json") {
			t.Fatalf("Content-Type %q", ct)
		}
	})

	for _, tc := range []struct{ name, query, code string }{
		{"syntax error", syntaxError, "GRAPHQL_PARSE_FAILED"},
		{"unknown field", unknownField, "GRAPHQL_VALIDATION_FAILED"},
	} {
		t.Run(tc.name+" is 400 without data for graphql-response+json", func(t *testing.T) {
			t.Parallel()
			r := s.send(t, http.MethodPost, "application/json", "application/graphql-response+json", jsonBody(t, tc.query, nil))
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.Status, r.raw)
			}
			if _, ok := keys(t, r.raw)["data"]; ok {
				t.Fatalf("a request error must not have a data key: %s", r.raw)
			}
			if len(r.Errors) == 0 || r.code() != tc.code {
				t.Fatalf("want a %s error: %s", tc.code, r.raw)
			}
			if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/graphql-response+json") {
				t.Fatalf("Content-Type %q", ct)
			}
		})
		t.Run(tc.name+" is 200 for application/json", func(t *testing.T) {
			t.Parallel()
			r := s.send(t, http.MethodPost, "application/json", "application/json", jsonBody(t, tc.query, nil))
			if r.Status != http.StatusOK || len(r.Errors) == 0 || r.code() != tc.code {
				t.Fatalf("status %d, want 200 with a %s error: %s", r.Status, tc.code, r.raw)
			}
		})
	}

	t.Run("variable of the wrong type is a request error", func(t *testing.T) {
		t.Parallel()
		body := jsonBody(t, `query($n: Int) { features(first: $n) { totalCount } }`, map[string]any{"n": "three"})
		r := s.send(t, http.MethodPost, "application/json", "application/graphql-response+json", body)
		if r.Status != http.StatusBadRequest || len(r.Errors) == 0 {
			t.Fatalf("status %d, want 400: %s", r.Status, r.raw)
		}
		if _, ok := keys(t, r.raw)["data"]; ok {
			t.Fatalf("data key in a request error: %s", r.raw)
		}
	})

	t.Run("GET runs a query with variables", func(t *testing.T) {
		t.Parallel()
		tok := token(t)
		f := s.newFeature(t, "get "+tok, 5, "READY")
		r := s.get(t, url.Values{
			"query":     {`query($id: ID!) { feature(id: $id) { name complexityPoints } }`},
			"variables": {`{"id":"` + f.ID + `"}`},
		})
		if r.Status != http.StatusOK || len(r.Errors) > 0 {
			t.Fatalf("%d %s", r.Status, r.raw)
		}
		var out struct{ Feature apiFeature }
		json.Unmarshal(r.Data, &out)
		if out.Feature.Name != "get "+tok || out.Feature.ComplexityPoints != 5 {
			t.Fatalf("got %s", r.Data)
		}
	})

	t.Run("GET with malformed variables is 400 and does not echo them", func(t *testing.T) {
		t.Parallel()
		tok := token(t)
		r := s.get(t, url.Values{"query": {okQuery}, "variables": {`{"x": ` + tok}})
		if r.Status != http.StatusBadRequest || len(r.Errors) == 0 {
			t.Fatalf("%d %s", r.Status, r.raw)
		}
		if bytes.Contains(r.raw, []byte(tok)) {
			t.Fatalf("response echoes the parameter: %s", r.raw)
		}
	})

	t.Run("GET without a query is 400", func(t *testing.T) {
		t.Parallel()
		r := s.get(t, url.Values{})
		if r.Status != http.StatusBadRequest || len(r.Errors) == 0 {
			t.Fatalf("%d %s", r.Status, r.raw)
		}
	})

	t.Run("GET mutation is 405 with Allow POST and writes nothing", func(t *testing.T) {
		t.Parallel()
		tok := token(t)
		r := s.get(t, url.Values{"query": {`mutation { createFeature(input: {name: "get ` + tok + `", complexityPoints: 1}) { feature { id } } }`}})
		if r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "POST" {
			t.Fatalf("status %d, Allow %q: %s", r.Status, r.Header.Get("Allow"), r.raw)
		}
		if _, ok := keys(t, r.raw)["data"]; ok {
			t.Fatalf("data key in a refused request: %s", r.raw)
		}
		if n := s.countFeatures(t, tok); n != 0 {
			t.Fatalf("GET created %d features", n)
		}
	})

	t.Run("GET picks the mutation by operationName and refuses it", func(t *testing.T) {
		t.Parallel()
		tok := token(t)
		doc := `query Read { features(first: 1) { totalCount } }
			mutation Write { createFeature(input: {name: "op ` + tok + `", complexityPoints: 1}) { feature { id } } }`
		r := s.get(t, url.Values{"query": {doc}, "operationName": {"Write"}})
		if r.Status != http.StatusMethodNotAllowed {
			t.Fatalf("status %d: %s", r.Status, r.raw)
		}
		if n := s.countFeatures(t, tok); n != 0 {
			t.Fatalf("GET created %d features", n)
		}
		r = s.get(t, url.Values{"query": {doc}, "operationName": {"Read"}})
		if r.Status != http.StatusOK || len(r.Errors) > 0 {
			t.Fatalf("query of the same document: %d %s", r.Status, r.raw)
		}
	})

	t.Run("POST without a JSON content type is 415 and writes nothing", func(t *testing.T) {
		t.Parallel()
		for _, ct := range []string{"text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
			tok := token(t)
			mutation := `mutation { createFeature(input: {name: "form ` + tok + `", complexityPoints: 1}) { feature { id } } }`
			body := jsonBody(t, mutation, nil)
			if strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
				body = []byte(url.Values{"query": {mutation}}.Encode())
			}
			r := s.send(t, http.MethodPost, ct, "", body)
			if r.Status != http.StatusUnsupportedMediaType || len(r.Errors) == 0 {
				t.Errorf("Content-Type %q: status %d, want 415: %s", ct, r.Status, r.raw)
			}
			if n := s.countFeatures(t, tok); n != 0 {
				t.Errorf("Content-Type %q: created %d features", ct, n)
			}
		}
	})

	t.Run("other methods write nothing", func(t *testing.T) {
		t.Parallel()
		for _, method := range []string{http.MethodPut, http.MethodPatch, http.MethodDelete} {
			tok := token(t)
			body := jsonBody(t, `mutation { createFeature(input: {name: "put `+tok+`", complexityPoints: 1}) { feature { id } } }`, nil)
			req, _ := http.NewRequest(method, s.URL+"/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+adminToken())
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode < 400 || res.StatusCode >= 500 {
				t.Errorf("%s: status %d, want a 4xx", method, res.StatusCode)
			}
			if n := s.countFeatures(t, tok); n != 0 {
				t.Errorf("%s created %d features", method, n)
			}
		}
	})

	t.Run("malformed JSON is 400 and does not echo the body", func(t *testing.T) {
		t.Parallel()
		tok := token(t)
		for _, body := range []string{
			`{"query": "{ features { totalCount } }", "variables": {"secret": ` + tok,
			`{"query": "` + tok + `"} {"trailing": true}`,
			`["` + tok + `"]`,
			`{"query": "{ features { totalCount } }", "variables": "` + tok + `"}`,
			`not json ` + tok,
		} {
			r := s.send(t, http.MethodPost, "application/json", "", []byte(body))
			if r.Status != http.StatusBadRequest || len(r.Errors) == 0 || r.Errors[0].Message == "" {
				t.Errorf("body %s: status %d, want 400 with a message: %s", body, r.Status, r.raw)
			}
			if bytes.Contains(r.raw, []byte(tok)) {
				t.Errorf("body %s: the response echoes it: %s", body, r.raw)
			}
		}
	})

	t.Run("missing query is 400", func(t *testing.T) {
		t.Parallel()
		for _, body := range []string{`{}`, `{"variables": {}}`, `{"query": ""}`, ``} {
			r := s.send(t, http.MethodPost, "application/json", "", []byte(body))
			if r.Status != http.StatusBadRequest || len(r.Errors) == 0 {
				t.Errorf("body %q: status %d, want 400: %s", body, r.Status, r.raw)
			}
		}
	})

	t.Run("variables are applied", func(t *testing.T) {
		t.Parallel()
		tok := token(t)
		var created struct{ CreateFeature struct{ Feature apiFeature } }
		s.mustData(t, `mutation($name: String!, $pts: Int!, $desc: String) {
			createFeature(input: {name: $name, complexityPoints: $pts, description: $desc}) { feature { `+featureFields+` } } }`,
			map[string]any{"name": "vars " + tok, "pts": 8, "desc": "described " + tok}, &created)
		f := created.CreateFeature.Feature
		if f.Name != "vars "+tok || f.ComplexityPoints != 8 || f.Description != "described "+tok || f.Status != "DRAFT" || f.Version != 1 {
			t.Fatalf("got %+v", f)
		}
		var out struct {
			Features struct{ Nodes []apiFeature }
		}
		s.mustData(t, `query($s: String!, $min: Int) { features(filter: {search: $s, minComplexity: $min}) { nodes { `+featureFields+` } } }`,
			map[string]any{"s": tok, "min": 8}, &out)
		if len(out.Features.Nodes) != 1 || out.Features.Nodes[0] != f {
			t.Fatalf("got %+v, want [%+v]", out.Features.Nodes, f)
		}
		s.mustData(t, `query($s: String!, $min: Int) { features(filter: {search: $s, minComplexity: $min}) { nodes { `+featureFields+` } } }`,
			map[string]any{"s": tok, "min": 9}, &out)
		if len(out.Features.Nodes) != 0 {
			t.Fatalf("minComplexity variable ignored: %+v", out.Features.Nodes)
		}
	})
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"SHIPGRAPH_MAX_BODY_BYTES": "2048"})

	t.Run("body under the limit is served", func(t *testing.T) {
		t.Parallel()
		tok := token(t)
		s.newFeature(t, "small "+tok, 1, "DRAFT")
		if n := s.countFeatures(t, tok); n != 1 {
			t.Fatalf("count %d", n)
		}
	})

	t.Run("body over the limit is 413 and writes nothing", func(t *testing.T) {
		t.Parallel()
		tok := token(t)
		body := jsonBody(t, `mutation($d: String) { createFeature(input: {name: "big `+tok+`", complexityPoints: 1, description: $d}) { feature { id } } }`,
			map[string]any{"d": strings.Repeat("x", 3000)})
		r := s.send(t, http.MethodPost, "application/json", "", body)
		if r.Status != http.StatusRequestEntityTooLarge || len(r.Errors) == 0 {
			t.Fatalf("status %d, want 413: %s", r.Status, r.raw)
		}
		if bytes.Contains(r.raw, []byte(tok)) {
			t.Fatalf("response echoes the body: %s", r.raw)
		}
		if n := s.countFeatures(t, tok); n != 0 {
			t.Fatalf("oversized request created %d features", n)
		}
	})
}

// ---------------------------------------------------------------------------
// 2. Relay object identification

const nodeQuery = `query($id: ID!) {
  node(id: $id) {
    __typename
    id
    ... on Feature { name complexityPoints }
    ... on TestCase { title feature { id } }
    ... on Build { number branch feature { id } }
    ... on Deployment { environment status progress build { id } feature { id } stages { name status } }
    ... on DeploymentEvent { sequence message stage stageStatus deployment { id } }
  }
}`

func TestRelayNodes(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	tok := token(t)
	feature := s.newFeature(t, "node "+tok, 2, "DRAFT")
	testCase := s.newTestCase(t, feature.ID, "checks "+tok)
	build := s.newBuild(t, feature.ID, "node-"+tok)
	deployment, event := insertDeployment(t, feature.ID, build.ID, "env-"+tok, "SUCCEEDED")

	t.Run("node resolves every type with its fields", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			id, typename string
			want         map[string]any
		}{
			{feature.ID, "Feature", map[string]any{"name": "node " + tok, "complexityPoints": 2.0}},
			{testCase, "TestCase", map[string]any{"title": "checks " + tok, "feature": map[string]any{"id": feature.ID}}},
			{build.ID, "Build", map[string]any{"number": 1.0, "branch": "node-" + tok, "feature": map[string]any{"id": feature.ID}}},
			{deployment, "Deployment", map[string]any{
				"environment": "env-" + tok, "status": "SUCCEEDED", "progress": 40.0,
				"build": map[string]any{"id": build.ID}, "feature": map[string]any{"id": feature.ID},
				"stages": []any{map[string]any{"name": "PRE_CHECKS", "status": "SUCCEEDED"}, map[string]any{"name": "EXECUTE", "status": "PENDING"}},
			}},
			{event, "DeploymentEvent", map[string]any{
				"sequence": 1.0, "message": "pre-checks passed", "stage": "PRE_CHECKS", "stageStatus": "SUCCEEDED",
				"deployment": map[string]any{"id": deployment},
			}},
		} {
			var out struct{ Node map[string]any }
			s.mustData(t, nodeQuery, map[string]any{"id": tc.id}, &out)
			if out.Node == nil {
				t.Errorf("%s: node is null", tc.typename)
				continue
			}
			if out.Node["__typename"] != tc.typename || out.Node["id"] != tc.id {
				t.Errorf("%s: got __typename %v id %v", tc.typename, out.Node["__typename"], out.Node["id"])
			}
			for k, v := range tc.want {
				if got := fmt.Sprint(out.Node[k]); got != fmt.Sprint(v) {
					t.Errorf("%s.%s = %s, want %s", tc.typename, k, got, fmt.Sprint(v))
				}
			}
		}
	})

	t.Run("typed fields fetch their own type", func(t *testing.T) {
		t.Parallel()
		var out struct {
			Feature    struct{ ID string }
			Build      struct{ ID string }
			Deployment struct{ ID string }
		}
		s.mustData(t, `query($f: ID!, $b: ID!, $d: ID!) { feature(id: $f) { id } build(id: $b) { id } deployment(id: $d) { id } }`,
			map[string]any{"f": feature.ID, "b": build.ID, "d": deployment}, &out)
		if out.Feature.ID != feature.ID || out.Build.ID != build.ID || out.Deployment.ID != deployment {
			t.Fatalf("got %+v", out)
		}
	})

	t.Run("well-formed id of a missing object is null without error", func(t *testing.T) {
		t.Parallel()
		for _, kind := range []shipgraph.Kind{shipgraph.KindFeature, shipgraph.KindTestCase, shipgraph.KindBuild, shipgraph.KindDeployment, shipgraph.KindDeploymentEvent} {
			r := s.post(t, nodeQuery, map[string]any{"id": missingID(kind)})
			if r.Status != http.StatusOK || len(r.Errors) > 0 || string(r.Data) != `{"node":null}` {
				t.Errorf("%s: %d %s", kind, r.Status, r.raw)
			}
		}
		r := s.post(t, `query($id: ID!) { feature(id: $id) { id } }`, map[string]any{"id": missingID(shipgraph.KindFeature)})
		if len(r.Errors) > 0 || string(r.Data) != `{"feature":null}` {
			t.Errorf("feature(id:) of a missing feature: %s", r.raw)
		}
	})

	t.Run("malformed id is BAD_USER_INPUT on id", func(t *testing.T) {
		t.Parallel()
		b64 := encodeRaw
		// One node has one ID: other spellings of the same key are refused,
		// among them base64 with non-zero unused bits in its last character.
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		canonical := shipgraph.EncodeID(shipgraph.KindFeature, 12)
		lastBits := canonical[:len(canonical)-1] + string(alphabet[strings.IndexByte(alphabet, canonical[len(canonical)-1])+1])
		if k, _ := base64.RawURLEncoding.DecodeString(lastBits); string(k) != "Feature:12" {
			t.Fatalf("%s does not alias Feature:12", lastBits)
		}
		for _, id := range []string{"", "not an id!", "12345", b64("Feature"), b64("Feature:"), b64("Feature:0"), b64("Feature:-4"), b64("Feature:1x"),
			b64("Spaceship:1"), b64("feature:1"), b64("Feature:99999999999999999999"), b64("Feature:+12"), b64("Feature:012"), b64(" Feature:12"),
			canonical + "=", lastBits} {
			r := s.post(t, nodeQuery, map[string]any{"id": id})
			wantError(t, r, "BAD_USER_INPUT", "id")
			if strings.Contains(r.Errors[0].Message, "strconv") || strings.Contains(r.Errors[0].Message, "base64") {
				t.Errorf("id %q: message leaks the decoder: %s", id, r.Errors[0].Message)
			}
		}
	})

	t.Run("typed field given another type's id is BAD_USER_INPUT", func(t *testing.T) {
		t.Parallel()
		wantError(t, s.post(t, `query($id: ID!) { feature(id: $id) { id } }`, map[string]any{"id": build.ID}), "BAD_USER_INPUT", "id")
		wantError(t, s.post(t, `query($id: ID!) { build(id: $id) { id } }`, map[string]any{"id": feature.ID}), "BAD_USER_INPUT", "id")
		wantError(t, s.post(t, `query($id: ID!) { deployment(id: $id) { id } }`, map[string]any{"id": event}), "BAD_USER_INPUT", "id")
	})

	t.Run("nodes keeps the order with nulls for missing ids", func(t *testing.T) {
		t.Parallel()
		ids := []string{build.ID, missingID(shipgraph.KindFeature), feature.ID, event, testCase, missingID(shipgraph.KindBuild), deployment, feature.ID}
		var out struct {
			Nodes []*struct {
				Typename string `json:"__typename"`
				ID       string
			}
		}
		s.mustData(t, `query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }`, map[string]any{"ids": ids}, &out)
		want := []string{"Build", "", "Feature", "DeploymentEvent", "TestCase", "", "Deployment", "Feature"}
		if len(out.Nodes) != len(ids) {
			t.Fatalf("%d nodes for %d ids", len(out.Nodes), len(ids))
		}
		for i, n := range out.Nodes {
			switch {
			case want[i] == "" && n != nil:
				t.Errorf("nodes[%d] = %+v, want null", i, n)
			case want[i] != "" && (n == nil || n.Typename != want[i] || n.ID != ids[i]):
				t.Errorf("nodes[%d] = %+v, want a %s with id %s", i, n, want[i], ids[i])
			}
		}
	})

	t.Run("nodes of no ids is empty", func(t *testing.T) {
		t.Parallel()
		r := s.post(t, `{ nodes(ids: []) { id } }`, nil)
		if len(r.Errors) > 0 || string(r.Data) != `{"nodes":[]}` {
			t.Fatalf("%s", r.raw)
		}
	})

	t.Run("nodes with a malformed id is BAD_USER_INPUT", func(t *testing.T) {
		t.Parallel()
		r := s.post(t, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": []string{feature.ID, "garbage"}})
		wantError(t, r, "BAD_USER_INPUT", "ids[1]")
	})

	t.Run("nodes of 100 ids is allowed, 101 is BAD_USER_INPUT", func(t *testing.T) {
		t.Parallel()
		ids := make([]string, 100)
		for i := range ids {
			ids[i] = feature.ID
		}
		var out struct{ Nodes []*struct{ ID string } }
		s.mustData(t, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": ids}, &out)
		if len(out.Nodes) != 100 || out.Nodes[99] == nil || out.Nodes[99].ID != feature.ID {
			t.Fatalf("100 ids: got %d nodes", len(out.Nodes))
		}
		r := s.post(t, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": append(ids, feature.ID)})
		wantError(t, r, "BAD_USER_INPUT", "ids")
	})
}

// encodeRaw is base64url without padding, the form of global IDs and cursors.
func encodeRaw(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// ---------------------------------------------------------------------------
// 3. Pagination

type pageInfo struct {
	HasNextPage     bool
	HasPreviousPage bool
	StartCursor     *string
	EndCursor       *string
}

type featureConn struct {
	TotalCount int
	PageInfo   pageInfo
	Edges      []struct {
		Cursor string
		Node   apiFeature
	}
	Nodes []struct{ ID string }
}

const featuresQuery = `query($first: Int, $after: String, $last: Int, $before: String, $filter: FeatureFilter, $orderBy: FeatureOrder) {
  features(first: $first, after: $after, last: $last, before: $before, filter: $filter, orderBy: $orderBy) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { ` + featureFields + ` } }
    nodes { id }
  }
}`

// features fetches one page and checks what every page must satisfy: nodes
// match edges, and the page's cursors are its first and last edge's.
func (s *testServer) features(t *testing.T, vars map[string]any) featureConn {
	t.Helper()
	var out struct{ Features featureConn }
	s.mustData(t, featuresQuery, vars, &out)
	c := out.Features
	if len(c.Nodes) != len(c.Edges) {
		t.Fatalf("%d nodes but %d edges", len(c.Nodes), len(c.Edges))
	}
	for i := range c.Edges {
		if c.Nodes[i].ID != c.Edges[i].Node.ID {
			t.Fatalf("nodes[%d] %s != edges[%d] %s", i, c.Nodes[i].ID, i, c.Edges[i].Node.ID)
		}
		if c.Edges[i].Cursor == "" {
			t.Fatalf("edge %d without a cursor", i)
		}
	}
	if n := len(c.Edges); n == 0 {
		if c.PageInfo.StartCursor != nil || c.PageInfo.EndCursor != nil {
			t.Fatalf("empty page with cursors: %+v", c.PageInfo)
		}
	} else {
		if c.PageInfo.StartCursor == nil || *c.PageInfo.StartCursor != c.Edges[0].Cursor {
			t.Fatalf("startCursor %v != first edge's cursor %s", c.PageInfo.StartCursor, c.Edges[0].Cursor)
		}
		if c.PageInfo.EndCursor == nil || *c.PageInfo.EndCursor != c.Edges[n-1].Cursor {
			t.Fatalf("endCursor %v != last edge's cursor %s", c.PageInfo.EndCursor, c.Edges[n-1].Cursor)
		}
	}
	return c
}

func (c featureConn) names() []string {
	var out []string
	for _, e := range c.Edges {
		out = append(out, e.Node.Name)
	}
	return out
}

func TestFeaturePagination(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	tok := token(t)
	// Created in an order unlike the name order, with varied points and statuses.
	type spec struct {
		word   string
		points int
		status string
	}
	specs := []spec{
		{"delta", 1, "DRAFT"}, {"alpha", 3, "READY"}, {"golf", 5, "DRAFT"}, {"charlie", 8, "READY"},
		{"echo", 13, "SHIPPED"}, {"bravo", 2, "DRAFT"}, {"foxtrot", 5, "IN_PROGRESS"},
	}
	var created []string // names in creation order
	for _, sp := range specs {
		name := "pg " + tok + " " + sp.word
		s.newFeature(t, name, sp.points, sp.status)
		created = append(created, name)
	}
	mine := map[string]any{"search": tok}

	t.Run("first/after visits every item once in creation order", func(t *testing.T) {
		t.Parallel()
		var got []string
		var after any
		for page := 0; ; page++ {
			c := s.features(t, map[string]any{"first": 3, "after": after, "filter": mine})
			if c.TotalCount != len(specs) {
				t.Fatalf("page %d: totalCount %d, want %d", page, c.TotalCount, len(specs))
			}
			if c.PageInfo.HasPreviousPage != (page > 0) {
				t.Fatalf("page %d: hasPreviousPage %v", page, c.PageInfo.HasPreviousPage)
			}
			got = append(got, c.names()...)
			wantMore := len(got) < len(specs)
			if c.PageInfo.HasNextPage != wantMore {
				t.Fatalf("page %d: hasNextPage %v after %d of %d items", page, c.PageInfo.HasNextPage, len(got), len(specs))
			}
			if !wantMore {
				break
			}
			after = *c.PageInfo.EndCursor
		}
		if !slices.Equal(got, created) {
			t.Fatalf("walk gave\n%q\nwant\n%q", got, created)
		}
	})

	t.Run("last/before walks backwards", func(t *testing.T) {
		t.Parallel()
		var got []string
		var before any
		for page := 0; ; page++ {
			c := s.features(t, map[string]any{"last": 3, "before": before, "filter": mine})
			got = append(c.names(), got...)
			if c.PageInfo.HasNextPage != (page > 0) {
				t.Fatalf("page %d: hasNextPage %v", page, c.PageInfo.HasNextPage)
			}
			wantMore := len(got) < len(specs)
			if c.PageInfo.HasPreviousPage != wantMore {
				t.Fatalf("page %d: hasPreviousPage %v after %d of %d items", page, c.PageInfo.HasPreviousPage, len(got), len(specs))
			}
			if !wantMore {
				break
			}
			before = *c.PageInfo.StartCursor
		}
		if !slices.Equal(got, created) {
			t.Fatalf("backward walk gave\n%q\nwant\n%q", got, created)
		}
	})

	t.Run("after and before together bound a window", func(t *testing.T) {
		t.Parallel()
		all := s.features(t, map[string]any{"first": 100, "filter": mine})
		c := s.features(t, map[string]any{"first": 100, "after": all.Edges[1].Cursor, "before": all.Edges[5].Cursor, "filter": mine})
		if want := created[2:5]; !slices.Equal(c.names(), want) {
			t.Fatalf("window gave %q, want %q", c.names(), want)
		}
	})

	t.Run("orderBy NAME DESC", func(t *testing.T) {
		t.Parallel()
		want := slices.Clone(created)
		sort.Sort(sort.Reverse(sort.StringSlice(want)))
		var got []string
		var after any
		for {
			c := s.features(t, map[string]any{"first": 2, "after": after, "filter": mine, "orderBy": map[string]any{"field": "NAME", "direction": "DESC"}})
			got = append(got, c.names()...)
			if !c.PageInfo.HasNextPage {
				break
			}
			after = *c.PageInfo.EndCursor
		}
		if !slices.Equal(got, want) {
			t.Fatalf("got %q, want %q", got, want)
		}
	})

	t.Run("orderBy COMPLEXITY_POINTS breaks ties by creation", func(t *testing.T) {
		t.Parallel()
		c := s.features(t, map[string]any{"first": 100, "filter": mine, "orderBy": map[string]any{"field": "COMPLEXITY_POINTS"}})
		var pts []int
		for _, e := range c.Edges {
			pts = append(pts, e.Node.ComplexityPoints)
		}
		if !slices.Equal(pts, []int{1, 2, 3, 5, 5, 8, 13}) {
			t.Fatalf("points in order: %v", pts)
		}
		if names := c.names(); names[3] != created[2] || names[4] != created[6] {
			t.Fatalf("tie not broken by creation: %q", names)
		}
	})

	t.Run("edge cursors page like pageInfo cursors", func(t *testing.T) {
		t.Parallel()
		all := s.features(t, map[string]any{"first": 100, "filter": mine})
		for i, e := range all.Edges[:len(all.Edges)-1] {
			c := s.features(t, map[string]any{"first": 1, "after": e.Cursor, "filter": mine})
			if len(c.Edges) != 1 || c.Edges[0].Node.ID != all.Edges[i+1].Node.ID {
				t.Fatalf("after edge %d: got %q, want %q", i, c.names(), all.Edges[i+1].Node.Name)
			}
		}
	})

	t.Run("filters", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name   string
			filter map[string]any
			want   []string // words, in creation order
		}{
			{"status", map[string]any{"status": "READY"}, []string{"alpha", "charlie"}},
			{"minComplexity", map[string]any{"minComplexity": 5}, []string{"golf", "charlie", "echo", "foxtrot"}},
			{"maxComplexity", map[string]any{"maxComplexity": 3}, []string{"delta", "alpha", "bravo"}},
			{"both bounds inclusive", map[string]any{"minComplexity": 3, "maxComplexity": 8}, []string{"alpha", "golf", "charlie", "foxtrot"}},
			{"status and bound", map[string]any{"status": "READY", "minComplexity": 5}, []string{"charlie"}},
			{"search ignores case", map[string]any{"search": strings.ToUpper("pg " + tok + " GoLf")}, []string{"golf"}},
			{"search treats % literally", map[string]any{"search": tok + "%"}, nil},
			{"search treats _ literally", map[string]any{"search": tok + "_"}, nil},
			{"no match", map[string]any{"status": "ARCHIVED"}, nil},
		} {
			f := map[string]any{"search": tok}
			for k, v := range tc.filter {
				f[k] = v
			}
			c := s.features(t, map[string]any{"first": 100, "filter": f})
			var want []string
			for _, w := range tc.want {
				want = append(want, "pg "+tok+" "+w)
			}
			if !slices.Equal(c.names(), want) || c.TotalCount != len(want) {
				t.Errorf("%s: got %q (totalCount %d), want %q", tc.name, c.names(), c.TotalCount, want)
			}
		}
	})

	t.Run("totalCount ignores the page", func(t *testing.T) {
		t.Parallel()
		c := s.features(t, map[string]any{"first": 1, "filter": map[string]any{"search": tok, "maxComplexity": 5}})
		if c.TotalCount != 5 || len(c.Edges) != 1 || !c.PageInfo.HasNextPage {
			t.Fatalf("totalCount %d, %d edges, %+v", c.TotalCount, len(c.Edges), c.PageInfo)
		}
	})

	t.Run("invalid arguments are BAD_USER_INPUT", func(t *testing.T) {
		t.Parallel()
		nameCursor := *s.features(t, map[string]any{"first": 1, "filter": mine, "orderBy": map[string]any{"field": "NAME"}}).PageInfo.EndCursor
		for _, tc := range []struct {
			name   string
			vars   map[string]any
			fields []string
		}{
			{"first 0", map[string]any{"first": 0}, []string{"first"}},
			{"first -1", map[string]any{"first": -1}, []string{"first"}},
			{"first 101", map[string]any{"first": 101}, []string{"first"}},
			{"last 0", map[string]any{"last": 0}, []string{"last"}},
			{"last 101", map[string]any{"last": 101}, []string{"last"}},
			{"first and last", map[string]any{"first": 2, "last": 2}, []string{"first", "last"}},
			{"garbage after", map[string]any{"first": 2, "after": "garbage!"}, []string{"after"}},
			{"base64 non-JSON after", map[string]any{"first": 2, "after": encodeRaw("hello")}, []string{"after"}},
			{"garbage before", map[string]any{"last": 2, "before": "garbage!"}, []string{"before"}},
			{"cursor of another ordering", map[string]any{"first": 2, "after": nameCursor}, []string{"after"}},
			{"crafted cursor with a bad time", map[string]any{"first": 2, "after": encodeRaw(`{"f":"CREATED_AT","v":"yesterday","i":1}`)}, []string{"after"}},
			{"crafted cursor with a bad number", map[string]any{"first": 2, "after": encodeRaw(`{"f":"COMPLEXITY_POINTS","v":"many","i":1}`)}, []string{"after"}},
			{"crafted cursor with a NUL", map[string]any{"first": 2, "after": encodeRaw(`{"f":"NAME","v":"a\u0000b","i":1}`)}, []string{"after"}},
			{"crafted cursor without an id", map[string]any{"first": 2, "after": encodeRaw(`{"f":"CREATED_AT","v":"2026-01-01T00:00:00Z"}`)}, []string{"after"}},
			{"minComplexity out of range", map[string]any{"filter": map[string]any{"minComplexity": 14}}, []string{"filter.minComplexity"}},
			{"min above max", map[string]any{"filter": map[string]any{"minComplexity": 8, "maxComplexity": 3}}, []string{"filter.minComplexity"}},
		} {
			if strings.Contains(tc.name, "bad number") {
				tc.vars["orderBy"] = map[string]any{"field": "COMPLEXITY_POINTS"}
			}
			if strings.Contains(tc.name, "NUL") {
				tc.vars["orderBy"] = map[string]any{"field": "NAME"}
			}
			r := s.post(t, featuresQuery, tc.vars)
			if r.code() != "BAD_USER_INPUT" || !slices.Contains(tc.fields, r.field()) {
				t.Errorf("%s: want BAD_USER_INPUT on %v: %s", tc.name, tc.fields, r.raw)
			}
		}
	})

	t.Run("100 is the largest page", func(t *testing.T) {
		t.Parallel()
		for _, vars := range []map[string]any{{"first": 100}, {"last": 100}} {
			if r := s.post(t, featuresQuery, vars); len(r.Errors) > 0 {
				t.Errorf("%v: %s", vars, r.raw)
			}
		}
	})

	t.Run("a cursor stays valid after its item is deleted", func(t *testing.T) {
		t.Parallel()
		tok2 := token(t)
		var ids []string
		for i := range 3 {
			ids = append(ids, s.newFeature(t, fmt.Sprintf("del %s %d", tok2, i), 1, "DRAFT").ID)
		}
		c := s.features(t, map[string]any{"first": 2, "filter": map[string]any{"search": tok2}})
		var out struct {
			DeleteFeature struct{ DeletedFeatureID string }
		}
		s.mustData(t, `mutation($id: ID!) { deleteFeature(input: {id: $id}) { deletedFeatureId } }`, map[string]any{"id": ids[1]}, &out)
		c = s.features(t, map[string]any{"first": 2, "after": *c.PageInfo.EndCursor, "filter": map[string]any{"search": tok2}})
		if len(c.Edges) != 1 || c.Edges[0].Node.ID != ids[2] {
			t.Fatalf("after a deleted item's cursor: got %q", c.names())
		}
	})
}

func TestNestedConnections(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	tok := token(t)
	f := s.newFeature(t, "nested "+tok, 5, "IN_PROGRESS")

	t.Run("testCases first/after in creation order", func(t *testing.T) {
		t.Parallel()
		f := s.newFeature(t, "tc "+tok, 5, "IN_PROGRESS")
		var want []string
		for i := range 5 {
			want = append(want, s.newTestCase(t, f.ID, fmt.Sprintf("case %d", i)))
		}
		type conn struct {
			TotalCount int
			PageInfo   pageInfo
			Edges      []struct {
				Cursor string
				Node   struct{ ID string }
			}
		}
		q := `query($id: ID!, $after: String) { feature(id: $id) { testCases(first: 2, after: $after) {
			totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id } } } } }`
		var got []string
		var after any
		for page := 0; ; page++ {
			var out struct{ Feature struct{ TestCases conn } }
			s.mustData(t, q, map[string]any{"id": f.ID, "after": after}, &out)
			c := out.Feature.TestCases
			if c.TotalCount != 5 {
				t.Fatalf("totalCount %d", c.TotalCount)
			}
			for _, e := range c.Edges {
				got = append(got, e.Node.ID)
			}
			if len(c.Edges) > 0 && (*c.PageInfo.StartCursor != c.Edges[0].Cursor || *c.PageInfo.EndCursor != c.Edges[len(c.Edges)-1].Cursor) {
				t.Fatalf("page cursors differ from edge cursors: %+v", c)
			}
			if c.PageInfo.HasNextPage != (len(got) < 5) {
				t.Fatalf("page %d: hasNextPage %v after %d items", page, c.PageInfo.HasNextPage, len(got))
			}
			if !c.PageInfo.HasNextPage {
				break
			}
			after = *c.PageInfo.EndCursor
		}
		if !slices.Equal(got, want) {
			t.Fatalf("walk gave %v, want %v", got, want)
		}

		var out struct {
			Feature struct {
				Last   struct{ Nodes []struct{ ID string } }
				Passed struct {
					TotalCount int
					Nodes      []struct{ ID string }
				}
			}
		}
		s.mustData(t, `mutation($id: ID!) { updateTestCase(input: {id: $id, status: PASSED}) { testCase { id } } }`, map[string]any{"id": want[3]}, &struct{}{})
		s.mustData(t, `query($id: ID!) { feature(id: $id) {
			last: testCases(last: 2) { nodes { id } }
			passed: testCases(filter: {status: PASSED}) { totalCount nodes { id } } } }`, map[string]any{"id": f.ID}, &out)
		if len(out.Feature.Last.Nodes) != 2 || out.Feature.Last.Nodes[0].ID != want[3] || out.Feature.Last.Nodes[1].ID != want[4] {
			t.Errorf("last: 2 gave %+v", out.Feature.Last.Nodes)
		}
		if out.Feature.Passed.TotalCount != 1 || len(out.Feature.Passed.Nodes) != 1 || out.Feature.Passed.Nodes[0].ID != want[3] {
			t.Errorf("status filter gave %+v", out.Feature.Passed)
		}
	})

	t.Run("nested page arguments are validated", func(t *testing.T) {
		t.Parallel()
		for _, q := range []string{
			`query($id: ID!) { feature(id: $id) { testCases(first: 0) { totalCount } } }`,
			`query($id: ID!) { feature(id: $id) { builds(first: 101) { totalCount } } }`,
			`query($id: ID!) { feature(id: $id) { deployments(first: 0) { totalCount } } }`,
		} {
			r := s.post(t, q, map[string]any{"id": f.ID})
			if r.code() != "BAD_USER_INPUT" || r.field() != "first" {
				t.Errorf("%s: %s", q, r.raw)
			}
		}
	})

	t.Run("builds newest first with filters", func(t *testing.T) {
		t.Parallel()
		f := s.newFeature(t, "builds "+tok, 5, "IN_PROGRESS")
		branch := "feat/" + tok
		b1 := s.newBuild(t, f.ID, branch)
		b2 := s.newBuild(t, f.ID, "main")
		b3 := s.newBuild(t, f.ID, branch)
		if r := s.setBuildStatus(t, b2.ID, "RUNNING", nil); len(r.Errors) > 0 {
			t.Fatal(string(r.raw))
		}
		type conn struct {
			TotalCount int
			PageInfo   pageInfo
			Nodes      []struct {
				ID     string
				Number int
			}
		}
		var out struct {
			Feature struct {
				All, First, Running, OnBranch conn
			}
		}
		s.mustData(t, `query($id: ID!, $branch: String!) { feature(id: $id) {
			all: builds { totalCount nodes { id number } }
			first: builds(first: 2) { totalCount pageInfo { hasNextPage endCursor } nodes { id number } }
			running: builds(filter: {status: RUNNING}) { totalCount nodes { id number } }
			onBranch: builds(filter: {branch: $branch}) { totalCount nodes { id number } }
		} }`, map[string]any{"id": f.ID, "branch": branch}, &out)
		numbers := func(c conn) []int {
			var n []int
			for _, x := range c.Nodes {
				n = append(n, x.Number)
			}
			return n
		}
		if got := numbers(out.Feature.All); !slices.Equal(got, []int{3, 2, 1}) || out.Feature.All.TotalCount != 3 {
			t.Errorf("builds: %v", got)
		}
		if got := numbers(out.Feature.First); !slices.Equal(got, []int{3, 2}) || !out.Feature.First.PageInfo.HasNextPage {
			t.Errorf("builds(first: 2): %v %+v", got, out.Feature.First.PageInfo)
		}
		if got := numbers(out.Feature.Running); !slices.Equal(got, []int{2}) || out.Feature.Running.TotalCount != 1 {
			t.Errorf("status filter: %v", got)
		}
		if got := numbers(out.Feature.OnBranch); !slices.Equal(got, []int{3, 1}) || out.Feature.OnBranch.TotalCount != 2 {
			t.Errorf("branch filter: %v", got)
		}

		var next struct{ Feature struct{ Builds conn } }
		s.mustData(t, `query($id: ID!, $after: String) { feature(id: $id) { builds(first: 2, after: $after) { pageInfo { hasNextPage hasPreviousPage } nodes { id number } } } }`,
			map[string]any{"id": f.ID, "after": *out.Feature.First.PageInfo.EndCursor}, &next)
		if got := numbers(next.Feature.Builds); !slices.Equal(got, []int{1}) || next.Feature.Builds.PageInfo.HasNextPage || !next.Feature.Builds.PageInfo.HasPreviousPage {
			t.Errorf("second page: %v %+v", got, next.Feature.Builds.PageInfo)
		}

		// The root listing, narrowed to this test's branch.
		var root struct{ Builds conn }
		s.mustData(t, `query($branch: String!) { builds(filter: {branch: $branch}) { totalCount nodes { id number } } }`, map[string]any{"branch": branch}, &root)
		if got := numbers(root.Builds); !slices.Equal(got, []int{3, 1}) || root.Builds.Nodes[0].ID != b3.ID || root.Builds.Nodes[1].ID != b1.ID {
			t.Errorf("root builds by branch: %+v", root.Builds)
		}
		r := s.post(t, `{ builds(filter: {branch: "../etc"}) { totalCount } }`, nil)
		if r.code() != "BAD_USER_INPUT" || r.field() != "filter.branch" {
			t.Errorf("invalid branch filter: %s", r.raw)
		}
		for _, bound := range []string{"minComplexity", "maxComplexity"} {
			r := s.post(t, `{ features(filter: {`+bound+`: 0}) { totalCount } }`, nil)
			if r.code() != "BAD_USER_INPUT" || r.field() != "filter."+bound {
				t.Errorf("%s: 0 is out of range, got %s", bound, r.raw)
			}
		}
	})

	t.Run("deployments and events of a build", func(t *testing.T) {
		t.Parallel()
		f := s.newFeature(t, "deps "+tok, 5, "IN_PROGRESS")
		b := s.newBuild(t, f.ID, "main")
		dep, ev := insertDeployment(t, f.ID, b.ID, "staging", "SUCCEEDED")
		var out struct {
			Feature struct {
				Deployments struct {
					TotalCount int
					Nodes      []struct {
						ID     string
						Events struct {
							TotalCount int
							Nodes      []struct{ ID string }
						}
					}
				}
				Builds struct {
					Nodes []struct {
						Deployments struct{ TotalCount int }
					}
				}
			}
		}
		s.mustData(t, `query($id: ID!) { feature(id: $id) {
			deployments(filter: {environment: "staging"}) { totalCount nodes { id events(first: 5) { totalCount nodes { id } } } }
			builds { nodes { deployments { totalCount } } } } }`, map[string]any{"id": f.ID}, &out)
		d := out.Feature.Deployments
		if d.TotalCount != 1 || len(d.Nodes) != 1 || d.Nodes[0].ID != dep || d.Nodes[0].Events.TotalCount != 1 || d.Nodes[0].Events.Nodes[0].ID != ev {
			t.Errorf("deployments: %+v", d)
		}
		if n := out.Feature.Builds.Nodes; len(n) != 1 || n[0].Deployments.TotalCount != 1 {
			t.Errorf("build deployments: %+v", n)
		}
	})
}

// ---------------------------------------------------------------------------
// 4. Mutations

func TestMutations(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)

	t.Run("feature create, update, conflict, delete", func(t *testing.T) {
		t.Parallel()
		tok := token(t)
		var created struct{ CreateFeature struct{ Feature apiFeature } }
		s.mustData(t, `mutation($name: String!) { createFeature(input: {name: $name, description: "  first  ", complexityPoints: 3, status: READY}) { feature { `+featureFields+` } } }`,
			map[string]any{"name": "life " + tok}, &created)
		f := created.CreateFeature.Feature
		if f.Description != "first" || f.Status != "READY" || f.Version != 1 || f.ComplexityPoints != 3 {
			t.Fatalf("created %+v", f)
		}

		update := `mutation($in: UpdateFeatureInput!) { updateFeature(input: $in) { feature { ` + featureFields + ` } } }`
		var upd struct{ UpdateFeature struct{ Feature apiFeature } }
		s.mustData(t, update, map[string]any{"in": map[string]any{"id": f.ID, "name": "renamed " + tok, "expectedVersion": 1}}, &upd)
		u := upd.UpdateFeature.Feature
		if u.Name != "renamed "+tok || u.Version != 2 || u.Description != "first" || u.ComplexityPoints != 3 || u.Status != "READY" {
			t.Fatalf("updated %+v: omitted fields must keep their value", u)
		}

		r := s.post(t, update, map[string]any{"in": map[string]any{"id": f.ID, "name": "stale " + tok, "expectedVersion": 1}})
		wantError(t, r, "CONFLICT", "expectedVersion")
		var now struct{ Feature apiFeature }
		s.mustData(t, `query($id: ID!) { feature(id: $id) { `+featureFields+` } }`, map[string]any{"id": f.ID}, &now)
		if now.Feature != u {
			t.Fatalf("a refused update changed the feature: %+v, want %+v", now.Feature, u)
		}

		r = s.post(t, update, map[string]any{"in": map[string]any{"id": f.ID, "complexityPoints": 14}})
		wantError(t, r, "BAD_USER_INPUT", "complexityPoints")
		r = s.post(t, update, map[string]any{"in": map[string]any{"id": missingID(shipgraph.KindFeature), "name": "ghost"}})
		wantError(t, r, "NOT_FOUND", "")

		var del struct {
			DeleteFeature struct{ DeletedFeatureID string }
		}
		s.mustData(t, `mutation($id: ID!) { deleteFeature(input: {id: $id}) { deletedFeatureId } }`, map[string]any{"id": f.ID}, &del)
		if del.DeleteFeature.DeletedFeatureID != f.ID {
			t.Fatalf("deletedFeatureId %q, want %q", del.DeleteFeature.DeletedFeatureID, f.ID)
		}
		if r := s.post(t, nodeQuery, map[string]any{"id": f.ID}); len(r.Errors) > 0 || string(r.Data) != `{"node":null}` {
			t.Fatalf("node after delete: %s", r.raw)
		}
		if n := s.countFeatures(t, tok); n != 0 {
			t.Fatalf("%d features left", n)
		}
		wantError(t, s.post(t, `mutation($id: ID!) { deleteFeature(input: {id: $id}) { deletedFeatureId } }`, map[string]any{"id": f.ID}), "NOT_FOUND", "")
	})

	t.Run("invalid create writes nothing", func(t *testing.T) {
		t.Parallel()
		tok := token(t)
		for _, tc := range []struct {
			in    map[string]any
			field string
		}{
			{map[string]any{"name": "pts " + tok, "complexityPoints": 0}, "complexityPoints"},
			{map[string]any{"name": "pts " + tok, "complexityPoints": 14}, "complexityPoints"},
			{map[string]any{"name": " x ", "complexityPoints": 1}, "name"},
			{map[string]any{"name": "long " + tok + strings.Repeat("é", 250), "complexityPoints": 1}, "name"},
			{map[string]any{"name": "desc " + tok, "complexityPoints": 1, "description": strings.Repeat("d", 2001)}, "description"},
		} {
			r := s.post(t, `mutation($in: CreateFeatureInput!) { createFeature(input: $in) { feature { id } } }`, map[string]any{"in": tc.in})
			wantError(t, r, "BAD_USER_INPUT", tc.field)
		}
		if n := s.countFeatures(t, tok); n != 0 {
			t.Fatalf("invalid creates stored %d features", n)
		}
		// 255 characters (not bytes) is the longest name.
		name := tok + " " + strings.Repeat("é", 255-len(tok)-1)
		if f := s.newFeature(t, name, 1, "DRAFT"); f.Name != name {
			t.Fatalf("255-character name came back as %q", f.Name)
		}
	})

	t.Run("feature with an active deployment cannot be deleted", func(t *testing.T) {
		t.Parallel()
		tok := token(t)
		f := s.newFeature(t, "busy "+tok, 2, "IN_PROGRESS")
		b := s.newBuild(t, f.ID, "main")
		dep, ev := insertDeployment(t, f.ID, b.ID, "production", "IN_PROGRESS")
		del := `mutation($id: ID!) { deleteFeature(input: {id: $id}) { deletedFeatureId } }`
		wantError(t, s.post(t, del, map[string]any{"id": f.ID}), "CONFLICT", "")
		if n := s.countFeatures(t, tok); n != 1 {
			t.Fatalf("refused delete removed the feature")
		}
		if _, err := testDB.DB.Pool.Exec(context.Background(), "UPDATE deployments SET status = 'SUCCEEDED' WHERE id = $1", key(t, dep, shipgraph.KindDeployment)); err != nil {
			t.Fatal(err)
		}
		s.mustData(t, del, map[string]any{"id": f.ID}, &struct{}{})
		// Everything under the feature went with it.
		var out struct{ Nodes []*struct{ ID string } }
		s.mustData(t, `query($ids: [ID!]!) { nodes(ids: $ids) { id } }`, map[string]any{"ids": []string{f.ID, b.ID, dep, ev}}, &out)
		for i, n := range out.Nodes {
			if n != nil {
				t.Errorf("nodes[%d] survived the delete: %+v", i, n)
			}
		}
	})

	t.Run("test case create, update, conflict, delete", func(t *testing.T) {
		t.Parallel()
		tok := token(t)
		f := s.newFeature(t, "tcl "+tok, 2, "DRAFT")
		type tc struct {
			ID, Title, Steps, ExpectedResult, Status string
			Version                                  int
			Feature                                  struct{ ID string }
		}
		const tcFields = `id title steps expectedResult status version feature { id }`
		var created struct{ CreateTestCase struct{ TestCase tc } }
		s.mustData(t, `mutation($f: ID!) { createTestCase(input: {featureId: $f, title: "Logs in", steps: "1. open\n2. type", expectedResult: "welcome"}) { testCase { `+tcFields+` } } }`,
			map[string]any{"f": f.ID}, &created)
		c := created.CreateTestCase.TestCase
		if c.Title != "Logs in" || c.Steps != "1. open\n2. type" || c.ExpectedResult != "welcome" || c.Status != "NOT_RUN" || c.Version != 1 || c.Feature.ID != f.ID {
			t.Fatalf("created %+v", c)
		}
		update := `mutation($in: UpdateTestCaseInput!) { updateTestCase(input: $in) { testCase { ` + tcFields + ` } } }`
		var upd struct{ UpdateTestCase struct{ TestCase tc } }
		s.mustData(t, update, map[string]any{"in": map[string]any{"id": c.ID, "status": "FAILED", "expectedVersion": 1}}, &upd)
		u := upd.UpdateTestCase.TestCase
		if u.Status != "FAILED" || u.Version != 2 || u.Title != c.Title || u.Steps != c.Steps {
			t.Fatalf("updated %+v", u)
		}
		wantError(t, s.post(t, update, map[string]any{"in": map[string]any{"id": c.ID, "status": "PASSED", "expectedVersion": 1}}), "CONFLICT", "expectedVersion")
		wantError(t, s.post(t, update, map[string]any{"in": map[string]any{"id": c.ID, "title": "x"}}), "BAD_USER_INPUT", "title")
		wantError(t, s.post(t, update, map[string]any{"in": map[string]any{"id": f.ID, "title": "wrong type"}}), "BAD_USER_INPUT", "id")

		var del struct {
			DeleteTestCase struct{ DeletedTestCaseID string }
		}
		s.mustData(t, `mutation($id: ID!) { deleteTestCase(input: {id: $id}) { deletedTestCaseId } }`, map[string]any{"id": c.ID}, &del)
		if del.DeleteTestCase.DeletedTestCaseID != c.ID {
			t.Fatalf("deletedTestCaseId %q", del.DeleteTestCase.DeletedTestCaseID)
		}
		var after struct {
			Node    *struct{ ID string }
			Feature struct{ TestCases struct{ TotalCount int } }
		}
		s.mustData(t, `query($id: ID!, $f: ID!) { node(id: $id) { id } feature(id: $f) { testCases { totalCount } } }`, map[string]any{"id": c.ID, "f": f.ID}, &after)
		if after.Node != nil || after.Feature.TestCases.TotalCount != 0 {
			t.Fatalf("after delete: %+v", after)
		}
		wantError(t, s.post(t, `mutation($id: ID!) { deleteTestCase(input: {id: $id}) { deletedTestCaseId } }`, map[string]any{"id": c.ID}), "NOT_FOUND", "")
	})

	t.Run("createTestCase checks featureId", func(t *testing.T) {
		t.Parallel()
		tok := token(t)
		f := s.newFeature(t, "fk "+tok, 2, "DRAFT")
		b := s.newBuild(t, f.ID, "main")
		create := `mutation($f: ID!, $title: String!) { createTestCase(input: {featureId: $f, title: $title}) { testCase { id } } }`
		wantError(t, s.post(t, create, map[string]any{"f": b.ID, "title": "wrong type " + tok}), "BAD_USER_INPUT", "featureId")
		wantError(t, s.post(t, create, map[string]any{"f": missingID(shipgraph.KindFeature), "title": "missing " + tok}), "BAD_USER_INPUT", "featureId")
		wantError(t, s.post(t, create, map[string]any{"f": "garbage", "title": "garbage " + tok}), "BAD_USER_INPUT", "featureId")
		r := s.post(t, create, map[string]any{"f": missingID(shipgraph.KindFeature), "title": "missing " + tok})
		if strings.Contains(string(r.raw), "fkey") || strings.Contains(string(r.raw), "test_cases") {
			t.Errorf("the error names database objects: %s", r.raw)
		}
		var out struct {
			Feature struct{ TestCases struct{ TotalCount int } }
		}
		s.mustData(t, `query($id: ID!) { feature(id: $id) { testCases { totalCount } } }`, map[string]any{"id": f.ID}, &out)
		if out.Feature.TestCases.TotalCount != 0 {
			t.Fatalf("refused creates stored %d test cases", out.Feature.TestCases.TotalCount)
		}
	})

	t.Run("builds are numbered 1, 2, 3 per feature", func(t *testing.T) {
		t.Parallel()
		tok := token(t)
		f := s.newFeature(t, "num "+tok, 2, "DRAFT")
		other := s.newFeature(t, "num other "+tok, 2, "DRAFT")
		for want := 1; want <= 3; want++ {
			b := s.newBuild(t, f.ID, "main")
			if b.Number != want || b.Status != "QUEUED" || b.Version != 1 || b.StartedAt != nil || b.FinishedAt != nil {
				t.Fatalf("build %d: %+v", want, b)
			}
		}
		if b := s.newBuild(t, other.ID, "main"); b.Number != 1 {
			t.Fatalf("another feature's first build is number %d", b.Number)
		}
		// A refused build takes no number.
		create := `mutation($f: ID!, $sha: String!, $branch: String!) { createBuild(input: {featureId: $f, commitSha: $sha, branch: $branch}) { build { number } } }`
		wantError(t, s.post(t, create, map[string]any{"f": f.ID, "sha": "xyz", "branch": "main"}), "BAD_USER_INPUT", "commitSha")
		wantError(t, s.post(t, create, map[string]any{"f": f.ID, "sha": "abcdef1", "branch": "a..b"}), "BAD_USER_INPUT", "branch")
		wantError(t, s.post(t, create, map[string]any{"f": missingID(shipgraph.KindFeature), "sha": "abcdef1", "branch": "main"}), "BAD_USER_INPUT", "featureId")
		wantError(t, s.post(t, create, map[string]any{"f": other.ID + "x", "sha": "abcdef1", "branch": "main"}), "BAD_USER_INPUT", "featureId")
		if b := s.newBuild(t, f.ID, "main"); b.Number != 4 {
			t.Fatalf("after refused creates the next build is number %d, want 4", b.Number)
		}
		var out struct{ CreateBuild struct{ Build apiBuild } }
		s.mustData(t, create, map[string]any{"f": f.ID, "sha": "  ABCDEF1234  ", "branch": " release/1.2 "}, &out)
		if b := out.CreateBuild.Build; b.Number != 5 {
			t.Fatalf("got %+v", b)
		}
	})

	t.Run("build status transitions", func(t *testing.T) {
		t.Parallel()
		tok := token(t)
		f := s.newFeature(t, "status "+tok, 2, "DRAFT")
		decode := func(r *gqlResponse) apiBuild {
			t.Helper()
			if len(r.Errors) > 0 {
				t.Fatalf("%s", r.raw)
			}
			var out struct{ UpdateBuildStatus struct{ Build apiBuild } }
			json.Unmarshal(r.Data, &out)
			return out.UpdateBuildStatus.Build
		}
		b := s.newBuild(t, f.ID, "main")
		wantError(t, s.setBuildStatus(t, b.ID, "SUCCEEDED", nil), "CONFLICT", "status")
		running := decode(s.setBuildStatus(t, b.ID, "RUNNING", nil))
		if running.Status != "RUNNING" || running.Version != 2 || running.StartedAt == nil || running.FinishedAt != nil {
			t.Fatalf("running: %+v", running)
		}
		// Setting the current status again is a no-op.
		if again := decode(s.setBuildStatus(t, b.ID, "RUNNING", nil)); again.Version != 2 || *again.StartedAt != *running.StartedAt {
			t.Fatalf("repeated status changed the build: %+v", again)
		}
		v := 1
		wantError(t, s.setBuildStatus(t, b.ID, "SUCCEEDED", &v), "CONFLICT", "expectedVersion")
		v = 2
		done := decode(s.setBuildStatus(t, b.ID, "SUCCEEDED", &v))
		if done.Status != "SUCCEEDED" || done.Version != 3 || done.FinishedAt == nil {
			t.Fatalf("succeeded: %+v", done)
		}
		for _, next := range []string{"RUNNING", "QUEUED", "FAILED", "CANCELLED"} {
			wantError(t, s.setBuildStatus(t, b.ID, next, nil), "CONFLICT", "status")
		}
		var now struct{ Build apiBuild }
		s.mustData(t, `query($id: ID!) { build(id: $id) { `+buildFields+` } }`, map[string]any{"id": b.ID}, &now)
		if now.Build.String() != done.String() {
			t.Fatalf("refused moves changed the build: %+v, want %+v", now.Build, done)
		}

		q := s.newBuild(t, f.ID, "main")
		if c := decode(s.setBuildStatus(t, q.ID, "CANCELLED", nil)); c.Status != "CANCELLED" || c.FinishedAt == nil {
			t.Fatalf("cancelled: %+v", c)
		}
		wantError(t, s.setBuildStatus(t, q.ID, "RUNNING", nil), "CONFLICT", "status")
		wantError(t, s.setBuildStatus(t, missingID(shipgraph.KindBuild), "RUNNING", nil), "NOT_FOUND", "")
		wantError(t, s.setBuildStatus(t, f.ID, "RUNNING", nil), "BAD_USER_INPUT", "id")
	})

	t.Run("concurrent createBuild numbers 1 to 20", func(t *testing.T) {
		t.Parallel()
		tok := token(t)
		f := s.newFeature(t, "race "+tok, 2, "DRAFT")
		const n = 20
		body, _ := json.Marshal(map[string]any{
			"query":     `mutation($f: ID!) { createBuild(input: {featureId: $f, commitSha: "0123456789abcdef", branch: "main"}) { build { number } } }`,
			"variables": map[string]any{"f": f.ID},
		})
		numbers := make([]int, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+adminToken())
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					errs[i] = err
					return
				}
				defer res.Body.Close()
				var out struct {
					Data struct {
						CreateBuild struct{ Build struct{ Number int } }
					}
					Errors []any
				}
				if err := json.NewDecoder(res.Body).Decode(&out); err != nil || len(out.Errors) > 0 || res.StatusCode != http.StatusOK {
					errs[i] = fmt.Errorf("status %d, decode error %v, errors %v", res.StatusCode, err, out.Errors)
					return
				}
				numbers[i] = out.Data.CreateBuild.Build.Number
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		slices.Sort(numbers)
		for i, got := range numbers {
			if got != i+1 {
				t.Fatalf("numbers %v, want 1..%d each once", numbers, n)
			}
		}
		var out struct {
			Feature struct{ Builds struct{ TotalCount int } }
		}
		s.mustData(t, `query($id: ID!) { feature(id: $id) { builds { totalCount } } }`, map[string]any{"id": f.ID}, &out)
		if out.Feature.Builds.TotalCount != n {
			t.Fatalf("%d builds stored", out.Feature.Builds.TotalCount)
		}
	})
}

// Mutation fields run one after another (GraphQL spec 6.2.2), and each must
// see what the ones before it wrote.
func TestSequentialMutationsSeeEarlierWrites(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	tok := token(t)
	f := s.newFeature(t, "seq "+tok, 1, "DRAFT")
	type build struct {
		Number  int
		Feature struct {
			Name   string
			Builds struct {
				TotalCount int
				Nodes      []struct{ Number int }
			}
		}
	}
	var out struct {
		A, B struct{ Build build }
		U    struct{ Feature struct{ Name string } }
	}
	s.mustData(t, `mutation($f: ID!, $name: String!) {
		a: createBuild(input: {featureId: $f, commitSha: "abcdef1", branch: "main"}) { build { number feature { name builds { totalCount nodes { number } } } } }
		u: updateFeature(input: {id: $f, name: $name}) { feature { name } }
		b: createBuild(input: {featureId: $f, commitSha: "abcdef1", branch: "main"}) { build { number feature { name builds { totalCount nodes { number } } } } }
	}`, map[string]any{"f": f.ID, "name": "renamed " + tok}, &out)
	b := out.B.Build
	if b.Number != 2 || b.Feature.Name != "renamed "+tok {
		t.Errorf("b: build %d of feature %q, want build 2 of %q", b.Number, b.Feature.Name, "renamed "+tok)
	}
	if b.Feature.Builds.TotalCount != 2 || len(b.Feature.Builds.Nodes) != 2 {
		t.Errorf("b: the feature has %d builds (%+v) after two createBuild, want 2", b.Feature.Builds.TotalCount, b.Feature.Builds.Nodes)
	}
}

// ---------------------------------------------------------------------------
// 5. Text is stored as sent

func TestTextIsStoredAsSent(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)

	t.Run("markup and quotes come back byte-identical", func(t *testing.T) {
		t.Parallel()
		tok := token(t)
		name := `<script>alert("x")</script> & 'quotes' ` + tok
		desc := "line one\n\tindented <b>bold</b> &amp; \"quoted\"\r\nCafé ☕ 日本 \\ backslash"
		var out struct{ CreateFeature struct{ Feature apiFeature } }
		s.mustData(t, `mutation($name: String!, $desc: String) { createFeature(input: {name: $name, description: $desc, complexityPoints: 1}) { feature { `+featureFields+` } } }`,
			map[string]any{"name": name, "desc": desc}, &out)
		if got := out.CreateFeature.Feature; got.Name != name || got.Description != desc {
			t.Fatalf("create returned %q / %q", got.Name, got.Description)
		}
		// Read back, over both response media types.
		for _, accept := range []string{"application/json", "application/graphql-response+json"} {
			r := s.send(t, http.MethodPost, "application/json", accept,
				jsonBody(t, `query($id: ID!) { feature(id: $id) { name description } }`, map[string]any{"id": out.CreateFeature.Feature.ID}))
			var read struct{ Feature apiFeature }
			if err := json.Unmarshal(r.Data, &read); err != nil || len(r.Errors) > 0 {
				t.Fatalf("%s: %s", accept, r.raw)
			}
			if read.Feature.Name != name || read.Feature.Description != desc {
				t.Fatalf("%s: read back %q / %q", accept, read.Feature.Name, read.Feature.Description)
			}
			for _, entity := range []string{"&lt;", "&gt;", "&#34;", "&#39;", "&quot;", "&amp;lt;"} {
				if bytes.Contains(r.raw, []byte(entity)) {
					t.Fatalf("%s: response is HTML-escaped (%s): %s", accept, entity, r.raw)
				}
			}
		}
		// And it is searchable as typed.
		var found struct{ Features struct{ TotalCount int } }
		s.mustData(t, `query($s: String!) { features(filter: {search: $s}) { totalCount } }`, map[string]any{"s": `</script> & 'quotes' ` + tok}, &found)
		if found.Features.TotalCount != 1 {
			t.Fatalf("search for the markup found %d", found.Features.TotalCount)
		}
	})

	t.Run("surrounding space is trimmed", func(t *testing.T) {
		t.Parallel()
		tok := token(t)
		if f := s.newFeature(t, "  \t padded "+tok+" \n ", 1, "DRAFT"); f.Name != "padded "+tok {
			t.Fatalf("name %q", f.Name)
		}
	})

	t.Run("control and format characters are rejected", func(t *testing.T) {
		t.Parallel()
		tok := token(t)
		f := s.newFeature(t, "ctl "+tok, 1, "DRAFT")
		for _, bad := range []string{"bell\a!", "nul\x00!", "esc\x1b[31m", "new\nline", "tab\there", "del\x7f!", "rtl\u202eoverride", "zero\u200bwidth", "c1\u0085next", "bom\ufeffmid"} {
			name := "ctl " + tok + " " + bad
			t.Logf("trying %q", bad)
			r := s.post(t, `mutation($name: String!) { createFeature(input: {name: $name, complexityPoints: 1}) { feature { id } } }`, map[string]any{"name": name})
			wantError(t, r, "BAD_USER_INPUT", "name")
			r = s.post(t, `mutation($id: ID!, $name: String!) { updateFeature(input: {id: $id, name: $name}) { feature { id } } }`, map[string]any{"id": f.ID, "name": name})
			wantError(t, r, "BAD_USER_INPUT", "name")
			r = s.post(t, `mutation($id: ID!, $t: String!) { createTestCase(input: {featureId: $id, title: $t}) { testCase { id } } }`, map[string]any{"id": f.ID, "t": bad})
			wantError(t, r, "BAD_USER_INPUT", "title")
		}
		// Multi-line fields take newlines and tabs but not other controls.
		r := s.post(t, `mutation($id: ID!, $d: String!) { updateFeature(input: {id: $id, description: $d}) { feature { description } } }`, map[string]any{"id": f.ID, "d": "a\x07b"})
		wantError(t, r, "BAD_USER_INPUT", "description")
		if n := s.countFeatures(t, tok); n != 1 {
			t.Fatalf("%d features, want only the valid one", n)
		}
		var out struct{ Feature apiFeature }
		s.mustData(t, `query($id: ID!) { feature(id: $id) { `+featureFields+` } }`, map[string]any{"id": f.ID}, &out)
		if out.Feature != f {
			t.Fatalf("refused updates changed the feature: %+v", out.Feature)
		}
	})
}

// ---------------------------------------------------------------------------
// 6. Internal errors leak nothing

// faultyStore is the real store with injected faults: reading features
// fails with an error full of internal detail, creating one panics.
type faultyStore struct{ *postgres.Store }

const secretCause = "pq: relation secret_table does not exist at 10.0.0.5"

func (faultyStore) FeaturesByID(context.Context, []int64) ([]*shipgraph.Feature, error) {
	return nil, errors.New(secretCause)
}

func (faultyStore) CreateFeature(context.Context, shipgraph.FeatureCreate) (*shipgraph.Feature, error) {
	panic("kaboom: " + secretCause)
}

// BuildsByID panics inside a loader's batch, on another goroutine than the
// resolver's.
func (faultyStore) BuildsByID(context.Context, []int64) ([]*shipgraph.Build, error) {
	panic("kaboom: " + secretCause)
}

// lockedBuffer is a log sink that handlers may write to concurrently.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the JSON log records.
func (b *lockedBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range bytes.Split(b.buf.Bytes(), []byte("\n")) {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("log line is not JSON: %s", l)
		}
		out = append(out, m)
	}
	return out
}

func TestInternalErrorsLeakNothing(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	cfg, err := loadConfig(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewServer(serverDeps{
		Logger:  slog.New(slog.NewJSONHandler(logs, nil)),
		Store:   faultyStore{postgres.NewStore(testDB.DB)},
		Ready:   testDB.DB,
		Config:  cfg,
		Version: "test",
		Auth:    testAuth,
	}))
	t.Cleanup(srv.Close)
	s := &testServer{URL: srv.URL}

	check := func(t *testing.T, query, requestID, wantInLog string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", bytes.NewReader(jsonBody(t, query, nil)))
		req.Header.Set("Content-Type", "application/json")
		if requestID != "" {
			req.Header.Set("X-Request-ID", requestID)
		}
		r := do(t, req)
		header := r.Header.Get("X-Request-ID")
		if header == "" {
			t.Fatalf("no X-Request-ID header")
		}
		if requestID != "" && header != requestID {
			t.Fatalf("X-Request-ID %q, want the client's %q", header, requestID)
		}
		if len(r.Errors) != 1 {
			t.Fatalf("want one error: %s", r.raw)
		}
		e := r.Errors[0]
		if r.code() != "INTERNAL_SERVER_ERROR" || e.Message != "internal server error" {
			t.Fatalf("got %s", r.raw)
		}
		if e.Extensions["requestId"] != header {
			t.Fatalf("extensions.requestId %v != X-Request-ID %q", e.Extensions["requestId"], header)
		}
		for _, secret := range []string{"secret_table", "10.0.0.5", "pq:", "kaboom", "panic", "goroutine", ".go:"} {
			if bytes.Contains(bytes.ToLower(r.raw), []byte(secret)) {
				t.Errorf("response leaks %q: %s", secret, r.raw)
			}
		}
		found := false
		for _, l := range logs.lines(t) {
			if l["request_id"] == header && l["level"] == "ERROR" && strings.Contains(fmt.Sprint(l["error"]), wantInLog) {
				found = true
			}
		}
		if !found {
			t.Errorf("no ERROR log line with request_id %s and %q", header, wantInLog)
		}
	}

	t.Run("a store error is INTERNAL_SERVER_ERROR with the cause only in the log", func(t *testing.T) {
		check(t, fmt.Sprintf(`{ feature(id: %q) { id name } }`, shipgraph.EncodeID(shipgraph.KindFeature, 1)), "", secretCause)
	})

	t.Run("the client's request id is used", func(t *testing.T) {
		check(t, fmt.Sprintf(`{ node(id: %q) { id } }`, shipgraph.EncodeID(shipgraph.KindFeature, 2)), "trace-"+token(t), secretCause)
	})

	t.Run("a malformed client request id is replaced", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/healthz", nil)
		req.Header.Set("X-Request-ID", "bad id with spaces")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if id := res.Header.Get("X-Request-ID"); id == "" || strings.Contains(id, " ") {
			t.Fatalf("X-Request-ID %q", id)
		}
	})

	t.Run("a panic is INTERNAL_SERVER_ERROR with the stack only in the log", func(t *testing.T) {
		check(t, `mutation { createFeature(input: {name: "boom", complexityPoints: 1}) { feature { id } } }`, "", "kaboom")
		check(t, `mutation { createFeature(input: {name: "boom", complexityPoints: 1}) { feature { id } } }`, "", "goroutine")
	})

	t.Run("a panic in a loader batch is INTERNAL_SERVER_ERROR", func(t *testing.T) {
		check(t, fmt.Sprintf(`{ build(id: %q) { id } }`, shipgraph.EncodeID(shipgraph.KindBuild, 1)), "", "kaboom")
	})

	t.Run("an internal error leaks nothing over GET or as graphql-response+json either", func(t *testing.T) {
		query := fmt.Sprintf(`{ feature(id: %q) { id name } }`, shipgraph.EncodeID(shipgraph.KindFeature, 3))
		get, _ := http.NewRequest(http.MethodGet, s.URL+"/graphql?"+url.Values{"query": {query}}.Encode(), nil)
		post, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", bytes.NewReader(jsonBody(t, query, nil)))
		post.Header.Set("Content-Type", "application/json")
		post.Header.Set("Accept", "application/graphql-response+json")
		for _, req := range []*http.Request{get, post} {
			r := do(t, req)
			if r.Status != http.StatusOK || r.code() != "INTERNAL_SERVER_ERROR" || r.Errors[0].Message != "internal server error" {
				t.Fatalf("%s: %d %s", req.Method, r.Status, r.raw)
			}
			for _, secret := range []string{"secret_table", "10.0.0.5", "pq:"} {
				if bytes.Contains(r.raw, []byte(secret)) {
					t.Errorf("%s: response leaks %q: %s", req.Method, secret, r.raw)
				}
			}
		}
	})

	t.Run("the server keeps serving after a panic", func(t *testing.T) {
		r := s.post(t, `{ features(first: 1) { totalCount } }`, nil)
		if r.Status != http.StatusOK || len(r.Errors) > 0 {
			t.Fatalf("%d %s", r.Status, r.raw)
		}
	})

	t.Run("user errors are not logged as internal", func(t *testing.T) {
		r := s.post(t, `{ features(first: 0) { totalCount } }`, nil)
		wantError(t, r, "BAD_USER_INPUT", "first")
		if _, ok := r.Errors[0].Extensions["requestId"]; ok {
			t.Errorf("a user error carries a requestId: %s", r.raw)
		}
		id := r.Header.Get("X-Request-ID")
		for _, l := range logs.lines(t) {
			if l["request_id"] == id && l["level"] == "ERROR" {
				t.Errorf("user error logged as an error: %v", l)
			}
		}
	})
}

// ---------------------------------------------------------------------------
// 7. Schema, GraphiQL and the command line

func TestSchemaAndGraphiQL(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)

	get := func(t *testing.T, path string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken()) // /schema.graphql needs one
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res, body
	}

	t.Run("schema.graphql is the documented SDL", func(t *testing.T) {
		t.Parallel()
		res, body := get(t, "/schema.graphql")
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
		}
		sdl := string(body)
		for _, want := range []string{
			"type Feature implements Node", "type TestCase implements Node", "type Build implements Node",
			"type Deployment implements Node", "type DeploymentEvent implements Node", "interface Node",
			`"A unit of work, sized in story points`, `"Fetches any object by its global ID`, "schema {",
		} {
			if !strings.Contains(sdl, want) {
				t.Errorf("SDL lacks %q", want)
			}
		}
		// It is a complete schema on its own, as code generators need.
		schema, err := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphql", Input: sdl})
		if err != nil {
			t.Fatalf("the served SDL does not load: %v", err)
		}
		if schema.Types["Feature"] == nil || schema.Mutation == nil || schema.Mutation.Fields.ForName("createBuild") == nil {
			t.Fatalf("the served SDL lacks types or mutations")
		}
	})

	t.Run("GraphiQL page and all its assets", func(t *testing.T) {
		t.Parallel()
		res, body := get(t, "/")
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
		}
		page := string(body)
		if !strings.Contains(page, "<title>Shipgraph</title>") || !strings.Contains(page, `/graphql`) {
			t.Errorf("page lacks title or endpoint:\n%s", page)
		}
		refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1)
		var assets int
		for _, m := range refs {
			ref := m[1]
			if strings.HasPrefix(ref, "data:") {
				continue
			}
			u, err := url.Parse(s.URL + "/")
			if err != nil {
				t.Fatal(err)
			}
			abs := u.ResolveReference(&url.URL{Path: strings.SplitN(ref, "?", 2)[0], RawQuery: strings.SplitN(ref+"?", "?", 2)[1]})
			if !strings.HasPrefix(abs.Path, "/graphiql/") {
				t.Errorf("asset %q is not under /graphiql/", ref)
				continue
			}
			assets++
			res, err := http.Get(strings.TrimSuffix(abs.String(), "?"))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK || len(b) == 0 {
				t.Errorf("%s: status %d, %d bytes", ref, res.StatusCode, len(b))
			}
		}
		if assets < 6 {
			t.Errorf("found %d assets in the page, want the CSS and scripts:\n%s", assets, page)
		}
		if res, _ := get(t, "/graphiql/no-such-file.js"); res.StatusCode != http.StatusNotFound {
			t.Errorf("unknown asset: status %d", res.StatusCode)
		}
	})

	t.Run("unknown paths are 404", func(t *testing.T) {
		t.Parallel()
		if res, _ := get(t, "/no/such/page"); res.StatusCode != http.StatusNotFound {
			t.Fatalf("status %d", res.StatusCode)
		}
	})
}

// runCLI runs the command line as main would, against the test database.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	env := map[string]string{"DATABASE_URL": testDB.URL, "SHIPGRAPH_ENV_FILE": "testdata/none.env"}
	var out, errb bytes.Buffer
	err = run(t.Context(), append([]string{"shipgraph"}, args...), func(k string) string { return env[k] }, &out, &errb)
	return out.String(), errb.String(), err
}

func TestCommandLine(t *testing.T) {
	t.Parallel()

	t.Run("version", func(t *testing.T) {
		t.Parallel()
		out, _, err := runCLI(t, "version")
		if err != nil || !regexp.MustCompile(`^shipgraph \S+\n$`).MatchString(out) {
			t.Fatalf("err %v, output %q", err, out)
		}
	})

	t.Run("--help prints the usage on stdout", func(t *testing.T) {
		t.Parallel()
		out, errOut, err := runCLI(t, "--help")
		if err != nil {
			t.Fatalf("err %v", err)
		}
		if !strings.Contains(out, "Usage:") || !strings.Contains(out, "shipgraph serve") || errOut != "" {
			t.Fatalf("stdout %q, stderr %q", out, errOut)
		}
	})

	for _, cmd := range []string{"serve", "migrate", "seed"} {
		t.Run(cmd+" --help succeeds with the usage on stdout", func(t *testing.T) {
			t.Parallel()
			out, errOut, err := runCLI(t, cmd, "--help")
			if err != nil {
				t.Fatalf("err %v, want nil (exit 0)", err)
			}
			if !strings.Contains(out, "Usage: shipgraph "+cmd) || errOut != "" {
				t.Fatalf("stdout %q, stderr %q", out, errOut)
			}
		})
	}

	t.Run("serve --help lists its flags", func(t *testing.T) {
		t.Parallel()
		out, _, _ := runCLI(t, "serve", "--help")
		if !strings.Contains(out, "-addr") || !strings.Contains(out, "-no-migrate") {
			t.Fatalf("stdout %q", out)
		}
	})

	t.Run("unknown command is a usage error", func(t *testing.T) {
		t.Parallel()
		out, errOut, err := runCLI(t, "frobnicate")
		if !errors.Is(err, errUsage) || exitCode(err) != 2 {
			t.Fatalf("err %v", err)
		}
		if !strings.Contains(errOut, `unknown command "frobnicate"`) || !strings.Contains(errOut, "Usage:") || out != "" {
			t.Fatalf("stdout %q, stderr %q", out, errOut)
		}
	})

	t.Run("no command is a usage error", func(t *testing.T) {
		t.Parallel()
		var out, errb bytes.Buffer
		err := run(t.Context(), []string{"shipgraph"}, func(string) string { return "" }, &out, &errb)
		if !errors.Is(err, errUsage) || !strings.Contains(errb.String(), "Usage:") {
			t.Fatalf("err %v, stderr %q", err, errb.String())
		}
	})

	t.Run("an unknown flag is an error", func(t *testing.T) {
		t.Parallel()
		_, errOut, err := runCLI(t, "serve", "--no-such-flag")
		if err == nil || errors.Is(err, flag.ErrHelp) || !strings.Contains(errOut, "no-such-flag") {
			t.Fatalf("err %v, stderr %q", err, errOut)
		}
	})

	t.Run("migrate status lists the applied migration", func(t *testing.T) {
		t.Parallel()
		out, _, err := runCLI(t, "migrate", "status")
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`(?m)^00001\s+\S*core\S*\s+applied \d{4}-\d\d-\d\dT`).MatchString(out) || strings.Contains(out, "pending") {
			t.Fatalf("output %q", out)
		}
	})

	t.Run("migrate up on a migrated database has nothing to do", func(t *testing.T) {
		t.Parallel()
		out, _, err := runCLI(t, "migrate", "up")
		if err != nil || out != "nothing to migrate\n" {
			t.Fatalf("err %v, output %q", err, out)
		}
	})

	t.Run("migrate without a valid subcommand is a usage error", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{{"migrate"}, {"migrate", "sideways"}, {"migrate", "up", "extra"}} {
			if _, _, err := runCLI(t, args...); !errors.Is(err, errUsage) {
				t.Errorf("%v: err %v, want errUsage", args, err)
			}
		}
	})

	t.Run("invalid configuration is reported", func(t *testing.T) {
		t.Parallel()
		var out, errb bytes.Buffer
		env := map[string]string{"SHIPGRAPH_ENV_FILE": "testdata/none.env", "SHIPGRAPH_LOG_FORMAT": "xml"}
		err := run(t.Context(), []string{"shipgraph", "serve"}, func(k string) string { return env[k] }, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), "SHIPGRAPH_LOG_FORMAT") {
			t.Fatalf("err %v", err)
		}
	})
}

// ---------------------------------------------------------------------------
// 8. Introspection and documentation

func TestSchemaIsFullyDocumented(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	type described struct {
		Name        string
		Description *string
	}
	type field struct {
		described
		Args []described
	}
	var out struct {
		Schema struct {
			QueryType    struct{ Name string }
			MutationType *struct{ Name string }
			Types        []struct {
				described
				Kind          string
				Fields        []field
				InputFields   []described
				EnumValues    []described
				Interfaces    []struct{ Name string }
				PossibleTypes []struct{ Name string }
			}
		} `json:"__schema"`
	}
	s.mustData(t, `{
	  __schema {
	    queryType { name }
	    mutationType { name }
	    types {
	      name kind description
	      fields(includeDeprecated: true) { name description args { name description } }
	      inputFields { name description }
	      enumValues(includeDeprecated: true) { name description }
	      interfaces { name }
	      possibleTypes { name }
	    }
	  }
	}`, nil, &out)

	if out.Schema.QueryType.Name != "Query" || out.Schema.MutationType == nil || out.Schema.MutationType.Name != "Mutation" {
		t.Fatalf("root types: %+v", out.Schema)
	}
	builtin := map[string]bool{"String": true, "Int": true, "Float": true, "Boolean": true, "ID": true}
	empty := func(d *string) bool { return d == nil || strings.TrimSpace(*d) == "" }
	var missing []string
	seen := map[string]bool{}
	for _, ty := range out.Schema.Types {
		seen[ty.Name] = true
		if strings.HasPrefix(ty.Name, "__") || builtin[ty.Name] {
			continue
		}
		if empty(ty.Description) {
			missing = append(missing, "type "+ty.Name)
		}
		for _, f := range ty.Fields {
			if empty(f.Description) {
				missing = append(missing, "field "+ty.Name+"."+f.Name)
			}
			for _, a := range f.Args {
				if empty(a.Description) {
					missing = append(missing, "argument "+ty.Name+"."+f.Name+"("+a.Name+")")
				}
			}
		}
		for _, f := range ty.InputFields {
			if empty(f.Description) {
				missing = append(missing, "input field "+ty.Name+"."+f.Name)
			}
		}
		for _, v := range ty.EnumValues {
			if empty(v.Description) {
				missing = append(missing, "enum value "+ty.Name+"."+v.Name)
			}
		}
		if ty.Name == "Node" {
			var impl []string
			for _, p := range ty.PossibleTypes {
				impl = append(impl, p.Name)
			}
			slices.Sort(impl)
			if want := []string{"Build", "Deployment", "DeploymentEvent", "Feature", "TestCase"}; !slices.Equal(impl, want) {
				t.Errorf("Node is implemented by %v, want %v", impl, want)
			}
		}
	}
	for _, want := range []string{"Feature", "TestCase", "Build", "Deployment", "DeploymentEvent", "PageInfo", "DateTime", "FeatureConnection", "Mutation"} {
		if !seen[want] {
			t.Errorf("introspection lacks type %s", want)
		}
	}
	if len(missing) > 0 {
		t.Errorf("undocumented schema members (add a description in schema/):\n  %s", strings.Join(missing, "\n  "))
	}

	// What introspection reports is what /schema.graphql serves.
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/schema.graphql", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sdl, _ := io.ReadAll(res.Body)
	res.Body.Close()
	schema, err := gqlparser.LoadSchema(&ast.Source{Input: string(sdl)})
	if err != nil {
		t.Fatalf("SDL: %v", err)
	}
	for _, ty := range out.Schema.Types {
		if strings.HasPrefix(ty.Name, "__") || builtin[ty.Name] {
			continue
		}
		def := schema.Types[ty.Name]
		if def == nil {
			t.Errorf("type %s is served by introspection but not in /schema.graphql", ty.Name)
			continue
		}
		var sdlFields, introFields []string
		for _, f := range def.Fields {
			if !strings.HasPrefix(f.Name, "__") { // gqlparser adds __schema and __type to Query
				sdlFields = append(sdlFields, f.Name)
			}
		}
		for _, f := range ty.Fields {
			introFields = append(introFields, f.Name)
		}
		for _, f := range ty.InputFields {
			introFields = append(introFields, f.Name)
		}
		for _, v := range ty.EnumValues {
			introFields = append(introFields, v.Name)
		}
		for _, v := range def.EnumValues {
			sdlFields = append(sdlFields, v.Name)
		}
		slices.Sort(sdlFields)
		slices.Sort(introFields)
		if !slices.Equal(sdlFields, introFields) {
			t.Errorf("type %s: /schema.graphql has %v, introspection %v", ty.Name, sdlFields, introFields)
		}
	}
}
