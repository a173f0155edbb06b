package limits

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// testSchema has the shapes the cost model cares about: connections with
// first/last, a list by ids, an interface, and a cycle.
var testSchema = gqlparser.MustLoadSchema(&ast.Source{Name: "test.graphqls", Input: `
type Query {
  node(id: ID!): Node
  nodes(ids: [ID!]!): [Node]!
  features(first: Int, last: Int): FeatureConnection!
  feature(id: ID!): Feature
}
type Mutation { touch(id: ID!): Feature }
interface Node { id: ID! }
type Feature implements Node {
  id: ID!
  name: String!
  builds(first: Int, last: Int): BuildConnection!
}
type Build implements Node {
  id: ID!
  number: Int!
  feature: Feature!
  deployments(first: Int = 5): DeploymentConnection!
}
type Deployment implements Node { id: ID! build: Build! }
type FeatureConnection { totalCount: Int! nodes: [Feature!]! edges: [FeatureEdge!]! }
type FeatureEdge { node: Feature! }
type BuildConnection { totalCount: Int! nodes: [Build!]! }
type DeploymentConnection { nodes: [Deployment!]! }
`})

func measureQuery(t *testing.T, query string, vars map[string]any, cfg Config) (*Stats, error) {
	t.Helper()
	doc, errs := gqlparser.LoadQuery(testSchema, query)
	if errs != nil {
		t.Fatalf("invalid test query: %v", errs)
	}
	st, err := measure(doc, doc.Operations[0], vars, cfg.withDefaults())
	if err != nil {
		return nil, err
	}
	return st, nil
}

func TestMeasure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		query string
		vars  map[string]any
		want  Stats
	}{
		{"a leaf at the root is depth 1", `{ __typename }`, nil, Stats{Depth: 1, RootFields: 1}},
		{"a connection without first costs the default page", `{ features { totalCount } }`, nil,
			Stats{Depth: 2, RootFields: 1, Nodes: 20}},
		{"nested connections multiply", `{ features(first: 10) { nodes { builds(first: 10) { nodes { deployments(first: 10) { nodes { id } } } } } } }`, nil,
			Stats{Depth: 7, RootFields: 1, Nodes: 10 + 100 + 1000}},
		{"last counts like first", `{ features(last: 7) { nodes { id } } }`, nil, Stats{Depth: 3, RootFields: 1, Nodes: 7}},
		{"a schema default for first is used", `{ features(first: 2) { nodes { builds(first: 3) { nodes { deployments { nodes { id } } } } } } }`, nil,
			Stats{Depth: 7, RootFields: 1, Nodes: 2 + 6 + 30}},
		{"variables set first", `query($n: Int) { features(first: $n) { nodes { builds(first: $n) { totalCount } } } }`,
			map[string]any{"n": json.Number("4")}, Stats{Depth: 4, RootFields: 1, Nodes: 4 + 16}},
		{"a null variable takes the default page", `query($n: Int) { features(first: $n) { totalCount } }`,
			map[string]any{"n": nil}, Stats{Depth: 2, RootFields: 1, Nodes: 20}},
		{"nodes(ids:) counts its ids", `{ nodes(ids: ["a", "b", "c"]) { ... on Feature { builds(first: 2) { totalCount } } } }`, nil,
			Stats{Depth: 3, RootFields: 1, Nodes: 3 + 6}},
		{"fragments are followed", `{ features(first: 2) { ...F } } fragment F on FeatureConnection { nodes { builds(first: 5) { nodes { id } } } }`, nil,
			Stats{Depth: 5, RootFields: 1, Nodes: 2 + 10}},
		{"the same field twice runs once", `{ features(first: 3) { totalCount } features(first: 3) { nodes { id } } }`, nil,
			Stats{Depth: 3, RootFields: 1, Nodes: 3}},
		{"aliases are separate fields", `{ a: features(first: 3) { totalCount } b: features(first: 4) { totalCount } c: feature(id: "x") { id } }`, nil,
			Stats{Depth: 2, RootFields: 3, Aliases: 3, Nodes: 7}},
		{"an alias equal to the name is no alias", `{ features: features(first: 1) { totalCount } }`, nil,
			Stats{Depth: 2, RootFields: 1, Nodes: 1}},
		{"both branches of an abstract type count", `{ node(id: "x") { ... on Feature { builds(first: 4) { totalCount } } ... on Build { deployments(first: 6) { nodes { id } } } } }`, nil,
			Stats{Depth: 4, RootFields: 1, Nodes: 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st, err := measureQuery(t, tc.query, tc.vars, Config{})
			if err != nil {
				t.Fatal(err)
			}
			if *st != tc.want {
				t.Fatalf("got %+v, want %+v", *st, tc.want)
			}
		})
	}
}

func TestMeasureRefusesEachLimitJustBeyondItsBound(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		limit string
		query string
		at    Config // admits the query
		below Config // one less: refuses it
	}{
		{LimitDepth, `{ feature(id: "x") { builds { nodes { feature { name } } } } }`, Config{MaxDepth: 5}, Config{MaxDepth: 4}},
		{LimitRootFields, `{ a: feature(id: "x") { id } b: feature(id: "y") { id } }`, Config{MaxRootFields: 2}, Config{MaxRootFields: 1}},
		{LimitAliases, `{ feature(id: "x") { a: name b: name c: id } }`, Config{MaxAliases: 3}, Config{MaxAliases: 2}},
		{LimitNodes, `{ features(first: 10) { nodes { builds(first: 10) { totalCount } } } }`, Config{MaxNodes: 110}, Config{MaxNodes: 109}},
	} {
		t.Run(tc.limit, func(t *testing.T) {
			t.Parallel()
			if _, err := measureQuery(t, tc.query, nil, tc.at); err != nil {
				t.Fatalf("at the bound: %v", err)
			}
			_, err := measureQuery(t, tc.query, nil, tc.below)
			if err == nil {
				t.Fatal("beyond the bound: admitted")
			}
			ext := asGQLError(t, err).Extensions
			if ext["code"] != "BAD_USER_INPUT" || ext["limit"] != tc.limit {
				t.Fatalf("extensions %v", ext)
			}
		})
	}
}

// TestMeasureIsLinearInFragmentSpreads feeds the walk a document whose
// fragments each spread the next one twice: 2^40 fields on paper. It must
// answer at once, as execution would collect each fragment once.
func TestMeasureIsLinearInFragmentSpreads(t *testing.T) {
	t.Parallel()
	const n = 40
	var b strings.Builder
	b.WriteString(`{ feature(id: "x") { ...F0 } }`)
	for i := range n {
		fmt.Fprintf(&b, " fragment F%d on Feature { id ...F%d ...F%d }", i, i+1, i+1)
	}
	fmt.Fprintf(&b, " fragment F%d on Feature { name }", n)
	start := time.Now()
	st, err := measureQuery(t, b.String(), nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Depth != 2 || time.Since(start) > 2*time.Second {
		t.Fatalf("depth %d in %s", st.Depth, time.Since(start))
	}
}

// TestMeasureCostCannotOverflow checks that huge pages saturate instead of
// wrapping around to a small cost.
func TestMeasureCostCannotOverflow(t *testing.T) {
	t.Parallel()
	q := `query($n: Int) { features(first: $n) { nodes { builds(first: $n) { nodes { deployments(first: $n) { nodes { build { feature { builds(first: $n) { totalCount } } } } } } } } } }`
	_, err := measureQuery(t, q, map[string]any{"n": json.Number("2147483647")}, Config{MaxNodes: math.MaxInt})
	if err == nil || asGQLError(t, err).Extensions["limit"] != LimitNodes {
		t.Fatalf("got %v", err)
	}
}

func asGQLError(t *testing.T, err error) *gqlerror.Error {
	t.Helper()
	var ge *gqlerror.Error
	if !errors.As(err, &ge) {
		t.Fatalf("%T is not a *gqlerror.Error: %v", err, err)
	}
	return ge
}
