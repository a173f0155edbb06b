package queryexec

import (
	"bytes"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/shipgraph/shipgraph/graph"
)

// The executor's answers are compared with gqlgen's, byte for byte, over
// the whole API in the root package (queryexec_test.go there); these tests
// pin the pieces.

// TestBindingsCoverSchema fails when an object type a query can reach has
// a field without a binding: such a field would silently send every query
// that asks for it to gqlgen's slower executor. Add its binding (or, if it
// must stay on gqlgen, list it here with the reason).
func TestBindingsCoverSchema(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	var missing []string
	seen := map[string]bool{}
	var walk func(name string)
	walk = func(name string) {
		def := schema.Types[name]
		if seen[name] || def == nil || strings.HasPrefix(name, "__") {
			return
		}
		seen[name] = true
		switch def.Kind {
		case ast.Interface, ast.Union:
			for _, pt := range schema.GetPossibleTypes(def) {
				walk(pt.Name)
			}
			return
		case ast.Object:
		default:
			return
		}
		for _, f := range def.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			if _, ok := types[name][f.Name]; !ok {
				missing = append(missing, name+"."+f.Name)
			}
			walk(f.Type.Name())
		}
	}
	walk(schema.Query.Name)
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("fields a query can reach without a binding: %v", missing)
	}
	for name := range types {
		if !seen[name] {
			t.Errorf("binding of %s, which no query reaches", name)
		}
	}
}

func gqlgenBytes(m graphql.Marshaler) []byte {
	var b bytes.Buffer
	m.MarshalGQL(&b)
	return b.Bytes()
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rcr", "\x00\x01\x1f\x7f", "é ☃ 😀", "\xff\xfe invalid", "</script>\u2028\u2029"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, want := appendString([]byte("x"), s), append([]byte("x"), gqlgenBytes(graphql.MarshalString(s))...)
		if !bytes.Equal(got, want) {
			t.Fatalf("appendString(%q) = %s, gqlgen writes %s", s, got, want)
		}
	})
}

func TestAppendTime(t *testing.T) {
	zone := time.FixedZone("x", -(3*3600 + 30*60))
	for _, tm := range []time.Time{
		time.Date(2026, 11, 26, 1, 2, 3, 0, time.UTC),
		time.Date(2026, 11, 26, 1, 2, 3, 456789000, time.UTC),
		time.Date(1999, 1, 2, 3, 4, 5, 1, zone),
		time.Now(),
	} {
		if got, want := appendTime(nil, tm), gqlgenBytes(graphql.MarshalTime(tm)); !bytes.Equal(got, want) {
			t.Errorf("appendTime(%v) = %s, gqlgen writes %s", tm, got, want)
		}
	}
}
