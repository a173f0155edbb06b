package queryexec

import (
	"context"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/shipgraph/shipgraph/graph"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// plan is what an operation selects on objects of one type: the fields in
// response order, merged across fragments, with their arguments decoded.
// It is made once per operation, before anything runs, so that the walk
// over 1,300 objects does no field collection and no argument coercion.
type plan struct {
	typeName string
	fields   []*field
	// relations: a field of the plan, or of a plan below it through
	// fields that need no resolver, has a resolver (see Schema.warm).
	relations bool
}

// field is one response key of a plan.
type field struct {
	name string
	key  []byte // `"alias":`

	typename string // for __typename: the object's type name
	// leaf appends a scalar or enum value.
	leaf func(buf []byte, obj any) ([]byte, error)
	// resolve returns an object-valued field's value: an object, nil, or
	// a []any for a list.
	resolve  func(ctx context.Context, r graph.ResolverRoot, obj any, args any) (any, error)
	resolver bool // resolve calls a resolver (not a plain method)
	args     any  // decoded arguments, for resolve

	// scalar: resolve returns a scalarInt (totalCount), not an object.
	scalar                       bool
	list, nullable, elemNullable bool
	child                        *plan            // the selection on an object type
	byType                       map[string]*plan // on an interface: by concrete type
}

// planner makes the plans of one operation.
type planner struct {
	schema *ast.Schema
	opCtx  *graphql.OperationContext
	// roles are the roles the planned fields' @hasRole ask for; all are
	// checked before anything runs.
	roles []role
	// used holds every field planned.
	used map[schemaField]bool
}

func newPlanner(s *ast.Schema, opCtx *graphql.OperationContext) *planner {
	return &planner{schema: s, opCtx: opCtx, used: map[schemaField]bool{}}
}

// plan returns the plan of sel on objects of type typeName, or false when
// any field in it is one this package does not execute.
func (pl *planner) plan(typeName string, sel ast.SelectionSet) (*plan, bool) {
	def := pl.schema.Types[typeName]
	bindings := types[typeName]
	if def == nil || def.Kind != ast.Object || bindings == nil {
		return nil, false
	}
	satisfies := append([]string{typeName}, def.Interfaces...)
	collected := graphql.CollectFields(pl.opCtx, sel, satisfies)
	p := &plan{typeName: typeName, fields: make([]*field, 0, len(collected))}
	for _, cf := range collected {
		if len(cf.Deferrables) > 0 {
			return nil, false // @defer: gqlgen streams it
		}
		f := &field{name: cf.Name, key: responseKey(cf.Alias)}
		if cf.Name == "__typename" {
			f.typename = typeName
			p.fields = append(p.fields, f)
			continue
		}
		pl.used[schemaField{typeName, cf.Name}] = true
		fd := def.Fields.ForName(cf.Name)
		b, ok := bindings[cf.Name]
		if fd == nil || !ok || !pl.directives(fd) {
			return nil, false
		}
		if b.leaf != nil {
			f.leaf = b.leaf
			p.fields = append(p.fields, f)
			continue
		}
		f.resolve, f.resolver = b.resolve, b.resolver
		if b.args != nil {
			args, err := b.args(cf.ArgumentMap(pl.opCtx.Variables))
			if err != nil {
				return nil, false // gqlgen reports it
			}
			f.args = args
		}
		f.nullable = !fd.Type.NonNull
		if f.list = fd.Type.Elem != nil; f.list {
			f.elemNullable = !fd.Type.Elem.NonNull
		}
		if f.scalar = isLeafType(pl.schema, fd.Type.Name()); f.scalar {
			p.fields = append(p.fields, f)
			continue
		}
		if !pl.children(f, fd.Type.Name(), cf.Selections) {
			return nil, false
		}
		p.fields = append(p.fields, f)
	}
	for _, f := range p.fields {
		p.relations = p.relations || f.resolver || (f.child != nil && f.child.relations)
	}
	return p, true
}

// children plans the selection of an object-valued field.
func (pl *planner) children(f *field, typeName string, sel ast.SelectionSet) bool {
	def := pl.schema.Types[typeName]
	if def == nil {
		return false
	}
	if def.Kind == ast.Object {
		var ok bool
		f.child, ok = pl.plan(typeName, sel)
		return ok
	}
	f.byType = map[string]*plan{}
	for _, pt := range pl.schema.GetPossibleTypes(def) {
		p, ok := pl.plan(pt.Name, sel)
		if !ok {
			return false
		}
		f.byType[pt.Name] = p
	}
	return true
}

// directives records what a field's definition directives ask of it: only
// @hasRole (and @deprecated, which asks nothing) are known.
func (pl *planner) directives(fd *ast.FieldDefinition) bool {
	for _, d := range fd.Directives {
		switch d.Name {
		case "deprecated":
		case "hasRole":
			arg := d.Arguments.ForName("role")
			if arg == nil || arg.Value == nil {
				return false
			}
			pl.roles = append(pl.roles, role(arg.Value.Raw))
		default:
			return false
		}
	}
	return true
}

func isLeafType(s *ast.Schema, name string) bool {
	def := s.Types[name]
	return def != nil && (def.Kind == ast.Scalar || def.Kind == ast.Enum)
}

// unread is what the operation's listings may leave unread: the large
// fields no plan asks for.
func (pl *planner) unread() shipgraph.Unread {
	return shipgraph.Unread{
		FeatureDescription: !pl.asked("Feature", "description"),
		TestCaseText:       !pl.asked("TestCase", "steps", "expectedResult"),
		BuildTimes:         !pl.asked("Build", "startedAt", "finishedAt"),
		DeploymentStages:   !pl.asked("Deployment", "stages"),
		DeploymentError:    !pl.asked("Deployment", "error"),
		DeploymentTimes:    !pl.asked("Deployment", "startedAt", "finishedAt"),
	}
}

// responseKey is `"alias":`. An alias is a GraphQL name: nothing in it
// needs escaping.
func responseKey(alias string) []byte { return []byte(strconv.Quote(alias) + ":") }

// schemaField names a field of a type.
type schemaField struct{ typeName, name string }

// asked reports whether any plan asks for one of typeName's fields.
func (pl *planner) asked(typeName string, fields ...string) bool {
	for _, f := range fields {
		if pl.used[schemaField{typeName, f}] {
			return true
		}
	}
	return false
}
