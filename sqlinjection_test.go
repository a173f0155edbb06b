package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// injectionPayloads are strings that break out of badly built SQL, LIKE
// patterns or parameter numbering, or that PostgreSQL refuses outright
// (NUL, invalid UTF-8) and so would surface as internal errors if they
// reached it.
var injectionPayloads = []string{
	`' OR 1=1 --`,
	`' OR '1'='1`,
	`" OR ""="`,
	`'; DROP TABLE features; --`,
	`'); DELETE FROM builds; --`,
	`1; SELECT pg_sleep(10)`,
	`' UNION SELECT id, name FROM features --`,
	`\`,
	`\'`,
	`%`,
	`_`,
	`%%`,
	`a%b_c`,
	"\x00",
	"main\x00' OR 1=1",
	"\xff\xfe",
	`’ OR 1=1 --`,
	`ʼ OR ʼ1ʼ=ʼ1`,
	`＇ OR 1=1 --`,
	`$1`,
	`$2::text`,
	`:name`,
	`?`,
	`/* comment */`,
	`E'\x27'`,
	`$$; DROP TABLE features; $$`,
	`main' AND pg_sleep(5) IS NULL --`,
	"\u202e' OR 1=1",
	strings.Repeat("A", 100_000),
	strings.Repeat("'", 10_000),
	strings.Repeat("%", 300),
}

// injectionSlot is one argument a payload goes through: the query takes it
// as $v (a String, or an ID).
type injectionSlot struct {
	name  string
	query string
}

// injectionSlots are every filter and search argument, at the root and
// nested, and every cursor and ID argument.
func injectionSlots(featureID, buildID, deploymentID string) []injectionSlot {
	f, b, d := fmt.Sprintf("%q", featureID), fmt.Sprintf("%q", buildID), fmt.Sprintf("%q", deploymentID)
	return []injectionSlot{
		{"features search", `query($v: String) { features(first: 100, filter: {search: $v}) { totalCount nodes { name description } } }`},
		{"features search with bounds", `query($v: String) { features(first: 5, filter: {search: $v, minComplexity: 1, maxComplexity: 13, status: DRAFT}) { totalCount nodes { name description } } }`},
		{"features search backwards by name", `query($v: String) { features(last: 5, filter: {search: $v}, orderBy: {field: NAME, direction: DESC}) { totalCount nodes { name description } } }`},
		{"builds branch", `query($v: String) { builds(first: 5, filter: {branch: $v}) { totalCount nodes { branch } } }`},
		{"builds branch and status", `query($v: String) { builds(first: 5, filter: {branch: $v, status: QUEUED}) { totalCount nodes { branch } } }`},
		{"deployments environment", `query($v: String) { deployments(first: 5, filter: {environment: $v}) { totalCount nodes { environment } } }`},
		{"deployments environment and status", `query($v: String) { deployments(first: 5, filter: {environment: $v, status: QUEUED}) { totalCount nodes { environment } } }`},
		{"nested builds branch", `query($v: String) { feature(id: ` + f + `) { builds(first: 5, filter: {branch: $v}) { totalCount nodes { branch } } } }`},
		{"nested deployments environment", `query($v: String) { feature(id: ` + f + `) { deployments(first: 5, filter: {environment: $v}) { totalCount nodes { environment } } } }`},
		{"build deployments environment", `query($v: String) { build(id: ` + b + `) { deployments(first: 5, filter: {environment: $v}) { totalCount nodes { environment } } } }`},
		{"search under nested filters", `query($v: String) { features(first: 3, filter: {search: $v}) { nodes { builds(first: 2, filter: {branch: $v}) { nodes { deployments(first: 2, filter: {environment: $v}) { totalCount } } } } } }`},
		{"features after", `query($v: String) { features(first: 5, after: $v) { totalCount } }`},
		{"features before", `query($v: String) { features(last: 5, before: $v, orderBy: {field: NAME, direction: ASC}) { totalCount } }`},
		{"builds after", `query($v: String) { builds(first: 5, after: $v, orderBy: {field: NUMBER, direction: DESC}) { totalCount } }`},
		{"deployments before", `query($v: String) { deployments(last: 5, before: $v) { totalCount } }`},
		{"nested test cases after", `query($v: String) { feature(id: ` + f + `) { testCases(first: 5, after: $v) { totalCount } } }`},
		{"events after", `query($v: String) { deployment(id: ` + d + `) { events(first: 5, after: $v) { totalCount } } }`},
		{"feature id", `query($v: ID!) { feature(id: $v) { id } }`},
		{"node id", `query($v: ID!) { node(id: $v) { id } }`},
		{"nodes ids", `query($v: ID!) { nodes(ids: [$v, ` + f + `]) { id } }`},
		{"deployment id", `query($v: ID!) { deployment(id: $v) { id } }`},
	}
}

// forgedCursors wrap a payload in cursors and IDs that decode: the payload
// then reaches the code behind the decoding, not just the decoder.
func forgedCursors(payload string) []string {
	var out []string
	for _, field := range []string{"CREATED_AT", "UPDATED_AT", "NAME", "NUMBER", "COMPLEXITY_POINTS", "SEQUENCE"} {
		b, _ := json.Marshal(shipgraph.Cursor{Field: shipgraph.OrderField(field), Value: payload, ID: 1})
		out = append(out, base64.RawURLEncoding.EncodeToString(b))
	}
	for _, kind := range []string{"Feature", "Build", "Deployment"} {
		out = append(out, base64.RawURLEncoding.EncodeToString([]byte(kind+":"+payload)))
	}
	return out
}

// Values that decode but that PostgreSQL refuses in a cast: each must be a
// bad cursor, not a failed statement.
var outOfRangeCursorValues = []string{
	"0000-01-01T00:00:00Z",
	"2024-01-01T00:00:00-23:59",
	"2024-01-01T00:00:00+23:00",
	"9999-12-31T23:59:59.999999999-14:00",
	"2147483648",
	"-2147483649",
	"+5",
	" 5",
	"1e3",
}

// wantHarmless checks that an injection attempt answered like any other bad
// or odd input: 200, no internal error, no database detail; an error, if
// any, is the client's.
func wantHarmless(t *testing.T, what string, r *gqlResponse) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("%s: status %d: %.500s", what, r.Status, r.raw)
	}
	for _, e := range r.Errors {
		switch code, _ := e.Extensions["code"].(string); code {
		case "BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED", "NOT_FOUND":
		default:
			t.Fatalf("%s: error code %q: %.500s", what, code, r.raw)
		}
	}
	lower := strings.ToLower(string(r.raw))
	for _, leak := range []string{"sqlstate", "syntax error at", "pgx", "pq:", "postgres", "relation \"", "goroutine", "runtime error"} {
		if strings.Contains(lower, leak) {
			t.Fatalf("%s: response shows %q: %.500s", what, leak, r.raw)
		}
	}
}

func TestSQLInjectionThroughFiltersAndCursors(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	tok := token(t)
	feature := s.newFeature(t, "injection target "+tok, 3, "DRAFT")
	s.newTestCase(t, feature.ID, "injection case "+tok)
	build := s.newBuild(t, feature.ID, "main")
	deployment, _ := insertDeployment(t, feature.ID, build.ID, "staging", "SUCCEEDED")

	// rowCount counts this test's rows in every table the API writes.
	rowCount := func(t *testing.T) map[string]int {
		t.Helper()
		f, d := key(t, feature.ID, shipgraph.KindFeature), key(t, deployment, shipgraph.KindDeployment)
		counts := map[string]int{}
		for table, where := range map[string]string{
			"features":          "id = $1",
			"test_cases":        "feature_id = $1",
			"builds":            "feature_id = $1",
			"deployments":       "feature_id = $1",
			"deployment_events": "deployment_id = $2",
		} {
			var n int
			err := testDB.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table+` WHERE `+where+` AND $1::bigint > 0 AND $2::bigint > 0`, f, d).Scan(&n)
			if err != nil {
				t.Fatalf("table %s: %v", table, err)
			}
			counts[table] = n
		}
		return counts
	}
	before := rowCount(t)

	for _, slot := range injectionSlots(feature.ID, build.ID, deployment) {
		t.Run(slot.name, func(t *testing.T) {
			t.Parallel()
			values := append([]string(nil), injectionPayloads...)
			if strings.Contains(slot.name, "after") || strings.Contains(slot.name, "before") || strings.Contains(slot.name, "id") {
				for _, p := range append(injectionPayloads[:len(injectionPayloads)-3:len(injectionPayloads)-3], outOfRangeCursorValues...) {
					values = append(values, forgedCursors(p)...)
				}
			}
			for _, v := range values {
				what := fmt.Sprintf("%s with %.40q", slot.name, v)
				r := s.post(t, slot.query, map[string]any{"v": v})
				wantHarmless(t, what, r)
				if slot.name == "features search" && len(r.Errors) == 0 {
					// Whatever matched contains the text literally: no
					// payload widened the search.
					var out struct {
						Features struct {
							Nodes []struct{ Name, Description string }
						}
					}
					json.Unmarshal(r.Data, &out)
					needle := strings.ToLower(strings.TrimSpace(v))
					for _, n := range out.Features.Nodes {
						if !strings.Contains(strings.ToLower(n.Name+"\n"+n.Description), needle) {
							t.Fatalf("%s matched %q", what, n.Name)
						}
					}
				}
			}
		})
	}

	t.Run("payloads inlined in the document are refused or harmless too", func(t *testing.T) {
		t.Parallel()
		for _, v := range injectionPayloads {
			lit, _ := json.Marshal(v) // a JSON string is a GraphQL string literal
			for _, q := range []string{
				`{ features(first: 3, filter: {search: ` + string(lit) + `}) { totalCount } }`,
				`{ builds(first: 3, filter: {branch: ` + string(lit) + `}) { totalCount } }`,
				`{ deployments(first: 3, filter: {environment: ` + string(lit) + `}) { totalCount } }`,
				`{ features(first: 3, after: ` + string(lit) + `) { totalCount } }`,
			} {
				wantHarmless(t, fmt.Sprintf("%.80s", q), s.post(t, q, nil))
			}
		}
	})

	t.Run("payloads in enum and number positions are validation errors", func(t *testing.T) {
		t.Parallel()
		for _, q := range []string{
			`{ features(filter: {status: "' OR 1=1 --"}) { totalCount } }`,
			`{ features(filter: {minComplexity: "1 OR 1=1"}) { totalCount } }`,
			`{ features(filter: {maxComplexity: 99999999999999999999}) { totalCount } }`,
			`{ features(filter: {minComplexity: -2147483648}) { totalCount } }`,
			`{ builds(filter: {status: DROP}) { totalCount } }`,
			`{ deployments(filter: {status: "QUEUED' --"}) { totalCount } }`,
			`{ features(orderBy: {field: "name; DROP TABLE features"}) { totalCount } }`,
			`{ feature(id: ` + fmt.Sprintf("%q", feature.ID) + `) { testCases(filter: {status: "PASSED' OR '1'='1"}) { totalCount } } }`,
		} {
			r := s.post(t, q, nil)
			wantHarmless(t, q, r)
			if len(r.Errors) == 0 {
				t.Errorf("%s: accepted", q)
			}
		}
		for _, vars := range []map[string]any{
			{"s": "' OR 1=1 --"}, {"s": "DRAFT' --"}, {"s": "\x00"},
		} {
			r := s.post(t, `query($s: FeatureStatus) { features(filter: {status: $s}) { totalCount } }`, vars)
			if r.Status != http.StatusOK || r.code() == "INTERNAL_SERVER_ERROR" || len(r.Errors) == 0 {
				t.Errorf("status variable %q: %d %s", vars["s"], r.Status, r.raw)
			}
		}
	})

	t.Run("the search is literal: wildcards match only themselves", func(t *testing.T) {
		t.Parallel()
		tok := token(t)
		s.newFeature(t, "100% done_"+tok, 1, "DRAFT")
		s.newFeature(t, "1000 doneX"+tok, 1, "DRAFT")
		for search, want := range map[string]int{"% done_" + tok: 1, "0% done" + tok: 0, "done_" + tok: 1, "done" + tok: 0, tok: 2} {
			if n := s.countFeatures(t, search); n != want {
				t.Errorf("search %q: %d features, want %d", search, n, want)
			}
		}
	})

	t.Cleanup(func() {
		// After every payload: the tables are there, with this test's rows.
		after := rowCount(t)
		for table, n := range before {
			if after[table] != n {
				t.Errorf("table %s: %d rows of this test's feature before, %d after", table, n, after[table])
			}
		}
		var out struct{ Feature *apiFeature }
		s.mustData(t, `query($id: ID!) { feature(id: $id) { `+featureFields+` } }`, map[string]any{"id": feature.ID}, &out)
		if out.Feature == nil || *out.Feature != feature {
			t.Errorf("the target feature changed: %+v", out.Feature)
		}
	})
}
