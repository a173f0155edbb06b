// Package queryexec executes GraphQL queries without gqlgen's per-field
// machinery, and leaves everything else to gqlgen.
//
// Why: for a nested read, gqlgen's generated executor spends most of its
// time on itself, not on the data. Every field gets a FieldContext, a
// context value, closures and a boxed result; every list element gets a
// goroutine; every object builds its response path for @defer. For the
// 1,300-object query of make bench that was about 100,000 allocations and
// six times the CPU of a hand-written pgx + encoding/json server (see
// internal/bench/PROFILE.md). gqlgen has no setting that turns this off.
//
// Schema wraps gqlgen's executable schema. For a query whose every field it
// knows (see bindings.go) it plans the operation once, with gqlgen's own
// field collection (fragments, aliases, @skip/@include, variables), then
// walks the plan over the data depth first and appends the JSON to one
// buffer. It calls the same resolvers as gqlgen, with the same loaders,
// so it reads the same rows with the same statements: relations batch by
// siblings (see package loaders), which needs no concurrency.
//
// It answers only what succeeds. Anything it does not know (mutations,
// introspection, @defer, a field without a binding) goes to gqlgen before
// it starts; any error while it runs (a resolver error, a missing role, a
// null where the schema allows none, a panic) throws its work away and
// lets gqlgen answer the whole operation, so that error messages, paths
// and null propagation stay gqlgen's. Both read through the response's
// loaders, so gqlgen's second pass finds most of the rows already loaded.
//
// Subscriptions whose selections need no resolver are served here too
// (see subscription.go): each event is rendered without gqlgen's per-field
// cost.
package queryexec

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/shipgraph/shipgraph/graph"
	"github.com/shipgraph/shipgraph/internal/auth"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// Schema is a graphql.ExecutableSchema that executes queries itself and
// passes everything else to the schema it wraps.
type Schema struct {
	// ExecutableSchema is gqlgen's generated schema, built from the same
	// Resolvers and Directives.
	graphql.ExecutableSchema
	Resolvers  graph.ResolverRoot
	Directives graph.DirectiveRoot
	// Resolve, when set, wraps every resolver call, as a gqlgen field
	// interceptor wraps the resolvers it runs: tracing's resolver spans.
	// object and field name the schema field ("Feature", "builds").
	Resolve func(ctx context.Context, object, field string) (context.Context, func(error))
	// Observe, when set, is told who answered each operation: the
	// metrics' view of how much runs here.
	Observe func(o Outcome, op ast.Operation)

	sizes sizes
}

// sizes remembers the size of each operation's last answer, so that the
// next answer's buffer starts that large instead of growing by doubling
// (a 126 KB answer grew through 17 copies). By operation, so that one
// large answer does not make every small one allocate as much. Documents
// come from gqlgen's query cache: an operation is the same pointer each
// time its query text comes back. The map is bounded by starting over.
type sizes struct {
	mu sync.Mutex
	m  map[*ast.OperationDefinition]int
}

// maxSizes bounds the operations remembered: the query cache's size.
const maxSizes = 1000

func (s *sizes) get(op *ast.OperationDefinition) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[op]
}

func (s *sizes) set(op *ast.OperationDefinition, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil || len(s.m) >= maxSizes {
		s.m = make(map[*ast.OperationDefinition]int)
	}
	s.m[op] = n
}

// New wraps es, generated with the same resolvers and directives.
func New(es graphql.ExecutableSchema, r graph.ResolverRoot, d graph.DirectiveRoot) *Schema {
	return &Schema{ExecutableSchema: es, Resolvers: r, Directives: d}
}

var _ graphql.ExecutableSchema = (*Schema)(nil)

// Outcome says which executor answered an operation.
type Outcome string

// Outcomes.
const (
	Served   Outcome = "queryexec" // answered here
	Passed   Outcome = "gqlgen"    // left to gqlgen before anything ran
	FellBack Outcome = "fallback"  // started here, answered by gqlgen after an error
)

func (s *Schema) observe(o Outcome, op ast.Operation) {
	if s.Observe != nil {
		s.Observe(o, op)
	}
}

// Exec implements graphql.ExecutableSchema.
func (s *Schema) Exec(ctx context.Context) graphql.ResponseHandler {
	opCtx := graphql.GetOperationContext(ctx)
	if opCtx.Operation == nil {
		return s.ExecutableSchema.Exec(ctx)
	}
	op := opCtx.Operation.Operation
	switch op {
	case ast.Subscription:
		if h := s.subscribe(ctx, opCtx); h != nil {
			s.observe(Served, op)
			return h
		}
		s.observe(Passed, op)
		return s.ExecutableSchema.Exec(ctx)
	case ast.Query:
	default:
		s.observe(Passed, op)
		return s.ExecutableSchema.Exec(ctx)
	}
	pl := newPlanner(s.Schema(), opCtx)
	root, ok := pl.plan("Query", opCtx.Operation.SelectionSet)
	if !ok {
		s.observe(Passed, op)
		return s.ExecutableSchema.Exec(ctx)
	}
	var (
		answered bool
		fallback graphql.ResponseHandler
	)
	return func(ctx context.Context) *graphql.Response {
		switch {
		case fallback != nil:
			return fallback(ctx) // gqlgen's own handler, until it is done
		case answered:
			return nil // a query has one response
		}
		answered = true
		// The whole operation is planned: what it never asks for need not
		// be read. (gqlgen, if it takes over, asks for the same fields.)
		data, err := s.execute(shipgraph.WithUnread(ctx, pl.unread()), opCtx.Operation, root, pl.roles)
		if err != nil {
			s.observe(FellBack, op)
			fallback = s.ExecutableSchema.Exec(ctx)
			return fallback(ctx)
		}
		s.observe(Served, op)
		return &graphql.Response{Data: data}
	}
}

// errFallback stops execution where gqlgen must answer: a null the schema
// does not allow, an object of a type the plan does not know.
var errFallback = errors.New("queryexec: answered by gqlgen")

// execute runs the plan of the query's root fields. Root fields are
// resolved concurrently, as in gqlgen, so that lookups by id batch across
// them (the by-id loaders gather what is asked within a short window);
// below the root, relations batch by siblings and are resolved as the
// walk reaches them.
func (s *Schema) execute(ctx context.Context, op *ast.OperationDefinition, root *plan, roles []role) (data []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("queryexec: panic: %v", p)
		}
	}()
	for _, r := range roles {
		if _, err := s.Directives.HasRole(ctx, nil, nothing, r); err != nil {
			return nil, err
		}
	}
	values, err := s.resolveRoot(ctx, root)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 0, s.sizes.get(op)+512)
	buf = append(buf, '{')
	if len(root.fields) == 1 {
		if buf, err = s.rootField(ctx, buf, root.fields[0], values[0]); err != nil {
			return nil, err
		}
	} else {
		// Listings first: a relation is loaded for all the objects of
		// a listing at once, and an object looked up by id that the
		// listing also holds then finds its relations loaded, where
		// walking the lookup first would load them for it alone, with
		// statements of their own. The answer keeps the query's order.
		parts := make([][]byte, len(root.fields))
		for _, i := range listingsFirst(root.fields) {
			if parts[i], err = s.rootField(ctx, nil, root.fields[i], values[i]); err != nil {
				return nil, err
			}
		}
		for i, part := range parts {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, part...)
		}
	}
	buf = append(buf, '}')
	s.sizes.set(op, len(buf))
	return buf, nil
}

// rootField appends a root field's key and value.
func (s *Schema) rootField(ctx context.Context, buf []byte, f *field, v any) ([]byte, error) {
	buf = append(buf, f.key...)
	if f.typename != "" {
		return appendString(buf, f.typename), nil
	}
	return s.value(ctx, buf, f, v)
}

// listingsFirst orders root fields for walking: the ones whose answer
// lists objects (a list, or a connection's nodes or edges), then the rest,
// each in query order.
func listingsFirst(fields []*field) []int {
	lists := func(f *field) bool {
		if f.list {
			return true
		}
		if f.child != nil {
			for _, c := range f.child.fields {
				if c.list {
					return true
				}
			}
		}
		return false
	}
	order := make([]int, 0, len(fields))
	for pass := range 2 {
		for i, f := range fields {
			if lists(f) == (pass == 0) {
				order = append(order, i)
			}
		}
	}
	return order
}

// nothing is the resolver behind a directive that is only asked whether
// the field may run.
func nothing(context.Context) (any, error) { return nil, nil }

// resolveRoot resolves the root fields, concurrently when there are
// several.
func (s *Schema) resolveRoot(ctx context.Context, root *plan) ([]any, error) {
	values := make([]any, len(root.fields))
	resolvers := 0
	for _, f := range root.fields {
		if f.resolve != nil {
			resolvers++
		}
	}
	if resolvers <= 1 {
		for i, f := range root.fields {
			if f.resolve != nil {
				v, err := s.resolve(ctx, root, f, nil)
				if err != nil {
					return nil, err
				}
				values[i] = v
			}
		}
		return values, nil
	}
	errs := make([]error, len(root.fields))
	var wg sync.WaitGroup
	for i, f := range root.fields {
		if f.resolve != nil {
			wg.Go(func() {
				// execute's recover does not reach this goroutine: a
				// panic here would end the process, where gqlgen
				// answers an internal error.
				defer func() {
					if p := recover(); p != nil {
						errs[i] = fmt.Errorf("queryexec: panic: %v", p)
					}
				}()
				values[i], errs[i] = s.resolve(ctx, root, f, nil)
			})
		}
	}
	wg.Wait()
	return values, errors.Join(errs...)
}

// object appends obj's selected fields as a JSON object.
func (s *Schema) object(ctx context.Context, buf []byte, p *plan, obj any) ([]byte, error) {
	buf = append(buf, '{')
	var err error
	for i, f := range p.fields {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, f.key...)
		switch {
		case f.typename != "":
			buf = appendString(buf, f.typename)
		case f.leaf != nil:
			buf, err = f.leaf(buf, obj)
		default:
			var v any
			if v, err = s.resolve(ctx, p, f, obj); err == nil {
				buf, err = s.value(ctx, buf, f, v)
			}
		}
		if err != nil {
			return buf, err
		}
	}
	return append(buf, '}'), nil
}

// resolve returns the value of an object-valued field of obj: an object,
// nil, or a []any of them for a list.
func (s *Schema) resolve(ctx context.Context, p *plan, f *field, obj any) (any, error) {
	if s.Resolve == nil || !f.resolver {
		return f.resolve(ctx, s.Resolvers, obj, f.args)
	}
	ctx, end := s.Resolve(ctx, p.typeName, f.name)
	v, err := f.resolve(ctx, s.Resolvers, obj, f.args)
	end(err)
	return v, err
}

// value appends the value of a resolved field.
func (s *Schema) value(ctx context.Context, buf []byte, f *field, v any) ([]byte, error) {
	if f.scalar {
		n, ok := v.(scalarInt)
		if !ok {
			return buf, errFallback
		}
		return appendInt(buf, int(n)), nil
	}
	if !f.list {
		return s.element(ctx, buf, f, v, f.nullable)
	}
	items, _ := v.([]any)
	if len(items) > 0 && f.child != nil {
		s.warm(ctx, f.child, items[0])
	}
	buf = append(buf, '[')
	var err error
	for i, it := range items {
		if i > 0 {
			buf = append(buf, ',')
		}
		if buf, err = s.element(ctx, buf, f, it, f.elemNullable); err != nil {
			return buf, err
		}
	}
	return append(buf, ']'), nil
}

// warm resolves the relations plan p selects on obj, the first of a list,
// before the walk descends into any of them, reaching through the fields
// that need no resolver (edges, node, pageInfo). Each relation loads for
// all of obj's siblings at once, so every relation of a level is loaded
// before the next level's: a row reached again deeper (a feature's newest
// deployment among the deployments of its builds) then finds its own
// relations loaded, where a depth-first walk would load them twice, for
// two families. Several relations load concurrently: their round trips to
// PostgreSQL overlap.
//
// What warm loads is only remembered by the loaders; errors and panics
// are left for the walk, which resolves the same fields again.
func (s *Schema) warm(ctx context.Context, p *plan, obj any) {
	if !p.relations {
		return
	}
	type relation struct {
		f   *field
		obj any
	}
	var todo []relation
	var collect func(p *plan, obj any)
	collect = func(p *plan, obj any) {
		for _, f := range p.fields {
			switch {
			case f.resolver:
				todo = append(todo, relation{f, obj})
			case f.child != nil && f.child.relations:
				// A plain field (edges, node…): its value is at hand.
				v, err := f.resolve(ctx, s.Resolvers, obj, f.args)
				if items, ok := v.([]any); ok {
					v = nil
					if len(items) > 0 {
						v = items[0]
					}
				}
				if err == nil && v != nil {
					collect(f.child, v)
				}
			}
		}
	}
	collect(p, obj)
	resolve := func(r relation) {
		defer func() { recover() }() // the walk meets it again
		r.f.resolve(ctx, s.Resolvers, r.obj, r.f.args)
	}
	if len(todo) == 1 {
		resolve(todo[0])
		return
	}
	var wg sync.WaitGroup
	for _, r := range todo {
		wg.Go(func() { resolve(r) })
	}
	wg.Wait()
}

// element appends one object, or null.
func (s *Schema) element(ctx context.Context, buf []byte, f *field, v any, nullable bool) ([]byte, error) {
	if v == nil {
		if !nullable {
			return buf, errFallback
		}
		return append(buf, "null"...), nil
	}
	p := f.child
	if f.byType != nil {
		if p = f.byType[typeOf(v)]; p == nil {
			return buf, errFallback
		}
	}
	return s.object(ctx, buf, p, v)
}

// role is the role a field's @hasRole asks for.
type role = auth.Role
