package queryexec

import (
	"context"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/shipgraph/shipgraph/graph"
)

// TestPanicBecomesAFallback checks that a resolver's panic, on the
// request's goroutine or on one of the root fields' own, ends in an error
// (gqlgen then answers), not in a crash of the process.
func TestPanicBecomesAFallback(t *testing.T) {
	panics := func(context.Context, graph.ResolverRoot, any, any) (any, error) { panic("kaboom") }
	answers := func(context.Context, graph.ResolverRoot, any, any) (any, error) { return nil, nil }
	for _, tc := range []struct {
		name   string
		fields []*field
	}{
		{"one root field, resolved on the request's goroutine", []*field{{name: "a", key: []byte(`"a":`), resolve: panics, nullable: true}}},
		{"root fields resolved concurrently", []*field{
			{name: "a", key: []byte(`"a":`), resolve: answers, nullable: true},
			{name: "b", key: []byte(`"b":`), resolve: panics, nullable: true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Schema{}
			data, err := s.execute(context.Background(), &ast.OperationDefinition{}, &plan{typeName: "Query", fields: tc.fields}, nil)
			if err == nil || !strings.Contains(err.Error(), "kaboom") {
				t.Fatalf("execute = %s, %v; want the panic as an error", data, err)
			}
		})
	}
	t.Run("root fields that answer are written", func(t *testing.T) {
		s := &Schema{}
		data, err := s.execute(context.Background(), &ast.OperationDefinition{}, &plan{typeName: "Query", fields: []*field{
			{name: "a", key: []byte(`"a":`), resolve: answers, nullable: true},
			{name: "b", key: []byte(`"b":`), resolve: answers, nullable: true},
			{name: "__typename", key: []byte(`"t":`), typename: "Query"},
		}}, nil)
		if err != nil || string(data) != `{"a":null,"b":null,"t":"Query"}` {
			t.Fatalf("execute = %s, %v", data, err)
		}
	})
}
