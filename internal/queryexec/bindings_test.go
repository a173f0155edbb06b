package queryexec

import (
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/shipgraph/shipgraph/graph"
	"github.com/shipgraph/shipgraph/graph/model"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// TestTypeOfNamesEveryImplementation fails when an object type that
// implements an interface of the schema has no case in typeOf: every
// object of it would send its query to gqlgen.
func TestTypeOfNamesEveryImplementation(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	named := map[string]bool{}
	for _, v := range []any{&shipgraph.Feature{}, &shipgraph.TestCase{}, &shipgraph.Build{}, &shipgraph.Deployment{}, &shipgraph.DeploymentEvent{}} {
		named[typeOf(v)] = true
	}
	abstract := 0
	for _, def := range schema.Types {
		if def.Kind != ast.Interface && def.Kind != ast.Union || def.BuiltIn {
			continue
		}
		abstract++
		for _, pt := range schema.GetPossibleTypes(def) {
			if !named[pt.Name] {
				t.Errorf("typeOf names no Go type as %s, which implements %s", pt.Name, def.Name)
			}
		}
	}
	if abstract == 0 {
		t.Fatal("no interface in the schema: the test checks nothing")
	}
	if got := typeOf(&struct{}{}); got != "" {
		t.Errorf("typeOf of an unknown type = %q, want \"\"", got)
	}
}

// TestDecodeArguments pins how argument maps, as gqlgen's field collection
// hands them over (literals as int64, variables as json.Number), become
// the resolvers' arguments, and that what decode cannot represent goes to
// gqlgen instead.
func TestDecodeArguments(t *testing.T) {
	type features = connectionArgs[model.FeatureFilter, model.FeatureOrder]
	status := shipgraph.FeatureStatus("SHIPPED")
	search := "caf\u00e9 \"q\" \\ \U0001F600 <b>&"
	for _, tc := range []struct {
		name string
		args map[string]any
		want features
	}{
		{"no arguments", nil, features{}},
		{"a literal Int", map[string]any{"first": int64(5)}, features{pageArgs: pageArgs{First: ptr(5)}}},
		{"a variable's Int", map[string]any{"last": json.Number("7"), "before": "abc"}, features{pageArgs: pageArgs{Last: ptr(7), Before: ptr("abc")}}},
		{"an explicit null", map[string]any{"first": nil, "filter": nil}, features{}},
		{"an input object with text JSON escapes", map[string]any{"filter": map[string]any{"search": search, "status": "SHIPPED", "minComplexity": int64(3)}},
			features{Filter: &model.FeatureFilter{Search: &search, Status: &status, MinComplexity: ptr(3)}}},
		{"an order", map[string]any{"orderBy": map[string]any{"field": "NAME", "direction": "DESC"}},
			features{OrderBy: &model.FeatureOrder{Field: model.FeatureOrderFieldName, Direction: model.OrderDirectionDesc}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decode[features](tc.args)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got.(*features), tc.want) {
				t.Errorf("decode(%v) = %+v, want %+v", tc.args, got, tc.want)
			}
		})
	}

	t.Run("invalid UTF-8 goes to gqlgen", func(t *testing.T) {
		for _, args := range []map[string]any{
			{"after": "\xff"},
			{"filter": map[string]any{"search": "ok \xc3"}},
			{"ids": []any{"ok", "bad \xed\xa0\x80"}},
		} {
			if _, err := decode[features](args); !errors.Is(err, errInvalidUTF8) {
				t.Errorf("decode(%q) = %v, want errInvalidUTF8", args, err)
			}
		}
		if _, err := decode[idsArgs](map[string]any{"ids": []any{"\U0001F600", "\u2028"}}); err != nil {
			t.Errorf("valid UTF-8 refused: %v", err)
		}
	})
}

// TestBindingsOfEveryArgumentDecode checks that every field argument the
// schema defines has a JSON name in its binding's argument type, so that
// no argument is silently dropped by decode.
func TestBindingsOfEveryArgumentDecode(t *testing.T) {
	schema := graph.NewExecutableSchema(graph.Config{}).Schema()
	checked := 0
	for typeName, fields := range types {
		def := schema.Types[typeName]
		for fieldName, b := range fields {
			fd := def.Fields.ForName(fieldName)
			if fd == nil || len(fd.Arguments) == 0 {
				continue
			}
			if b.args == nil {
				t.Errorf("%s.%s takes arguments but its binding decodes none", typeName, fieldName)
				continue
			}
			// Every argument, null: decode must accept the map, and its
			// result must have a field for each.
			args := map[string]any{}
			for _, a := range fd.Arguments {
				args[a.Name] = nil
			}
			v, err := b.args(args)
			if err != nil {
				t.Errorf("%s.%s: %v", typeName, fieldName, err)
				continue
			}
			names := jsonNames(reflect.TypeOf(v).Elem())
			var missing []string
			for _, a := range fd.Arguments {
				if !names[a.Name] {
					missing = append(missing, a.Name)
				}
			}
			sort.Strings(missing)
			if len(missing) > 0 {
				t.Errorf("%s.%s: arguments %v have no field in %T", typeName, fieldName, missing, v)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Fatal("no binding with arguments")
	}
}

// jsonNames returns the JSON names of a struct's fields, embedded ones
// included.
func jsonNames(t reflect.Type) map[string]bool {
	names := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			for n := range jsonNames(f.Type) {
				names[n] = true
			}
			continue
		}
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" {
			names[name] = true
		}
	}
	return names
}

func ptr[T any](v T) *T { return &v }
