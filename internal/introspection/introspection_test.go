package introspection_test

import (
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/shipgraph/shipgraph/internal/introspection"
)

var schema = gqlparser.MustLoadSchema(&ast.Source{Name: "test.graphqls", Input: `
enum Status { DRAFT READY }
input Filter { status: Status search: String }
type Item { name: String! child: Item }
type Query { items(first: Int, filter: Filter): [Item!]! }
`})

// validate parses and validates query with r and returns the errors'
// messages.
func validate(t *testing.T, query string, r *rules.Rules) []string {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: query})
	if err != nil {
		t.Fatalf("parse %q: %v", query, err)
	}
	var msgs []string
	for _, e := range validator.ValidateWithRules(schema, doc, r) {
		msgs = append(msgs, e.Message)
	}
	return msgs
}

// typos are queries that each fail one rule that suggests a name.
var typos = map[string]string{
	"field":       `{ items { nam } }`,
	"argument":    `{ items(firts: 1) { name } }`,
	"input field": `{ items(filter: {statu: DRAFT}) { name } }`,
	"enum value":  `{ items(filter: {status: DRAF}) { name } }`,
	"type name":   `{ ...F } fragment F on Quer { items { name } }`,
	"scalar leaf": `{ items { name { x } } }`,
}

func TestWithoutSuggestions(t *testing.T) {
	t.Parallel()
	for name, query := range typos {
		t.Run("a mistyped "+name, func(t *testing.T) {
			t.Parallel()
			with := validate(t, query, rules.NewDefaultRules())
			if len(with) == 0 {
				t.Fatalf("%s validates", query)
			}
			without := validate(t, query, introspection.WithoutSuggestions(rules.NewDefaultRules()))
			if len(without) != len(with) {
				t.Fatalf("errors with suggestions %q, without %q: not the same errors", with, without)
			}
			for _, m := range without {
				if strings.Contains(m, "Did you mean") {
					t.Errorf("suggestion left: %q", m)
				}
			}
		})
	}

	t.Run("the default rules do suggest, or this test proves nothing", func(t *testing.T) {
		t.Parallel()
		for name, query := range typos {
			if name == "scalar leaf" {
				continue // its suggestion is a selection to remove, not a name
			}
			if msgs := validate(t, query, rules.NewDefaultRules()); !strings.Contains(strings.Join(msgs, " "), "Did you mean") {
				t.Errorf("%s: no suggestion in %q", name, msgs)
			}
		}
	})

	t.Run("a valid query still validates", func(t *testing.T) {
		t.Parallel()
		if msgs := validate(t, `{ items(first: 2, filter: {status: READY}) { name child { name } } }`, introspection.WithoutSuggestions(rules.NewDefaultRules())); len(msgs) > 0 {
			t.Fatalf("errors %q", msgs)
		}
	})
}

func TestRefuse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, query string
		refused     bool
	}{
		{"__schema", `{ __schema { types { name } } }`, true},
		{"__type", `{ __type(name: "Item") { fields { name } } }`, true},
		{"__schema next to data", `{ items { name } __schema { queryType { name } } }`, true},
		{"__schema in a fragment", `query { ...Intro } fragment Intro on Query { __schema { types { name } } }`, true},
		{"__type in a nested fragment", `query { ...A } fragment A on Query { ... on Query { ...B } } fragment B on Query { __type(name: "Item") { name } }`, true},
		{"__type in an inline fragment", `{ ... on Query { __type(name: "Item") { name } } }`, true},
		{"__typename", `{ __typename items { __typename name } }`, false},
		{"plain data", `{ items { name child { name } } }`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc, errs := gqlparser.LoadQuery(schema, tc.query)
			if errs != nil {
				t.Fatalf("invalid test query: %v", errs)
			}
			oc := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0]}
			err := introspection.Refuse{}.MutateOperationContext(t.Context(), oc)
			if !tc.refused {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("not refused")
			}
			if err.Message != introspection.ErrDisabled || err.Extensions["code"] != errcode.ValidationFailed || len(err.Locations) == 0 {
				t.Fatalf("error %+v, want a located %s", err, errcode.ValidationFailed)
			}
		})
	}
}
