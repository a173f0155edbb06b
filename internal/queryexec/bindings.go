package queryexec

import (
	"context"
	"encoding/json"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/shipgraph/shipgraph/graph"
	"github.com/shipgraph/shipgraph/graph/model"
	"github.com/shipgraph/shipgraph/internal/ratelimit"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// binding is how one schema field is executed: a leaf appends a value of
// the object; resolve returns an object-valued field's value, through the
// same resolver (or method) gqlgen's generated code calls.
type binding struct {
	leaf     func(buf []byte, obj any) ([]byte, error)
	resolve  func(ctx context.Context, r graph.ResolverRoot, obj any, args any) (any, error)
	resolver bool                              // resolve is a resolver, not a method
	args     func(map[string]any) (any, error) // decodes resolve's arguments
}

// types binds the fields of every object type a query can reach. A field
// missing here sends its operations to gqlgen (TestBindingsCoverSchema
// lists what is missing, so that an addition to the schema is a decision).
var types = map[string]map[string]binding{
	"Query": {
		"node": {resolver: true, args: decode[idArgs], resolve: func(ctx context.Context, r graph.ResolverRoot, _ any, a any) (any, error) {
			n, err := r.Query().Node(ctx, a.(*idArgs).ID)
			if err != nil || n == nil {
				return nil, err
			}
			return n, nil
		}},
		"nodes": {resolver: true, args: decode[idsArgs], resolve: func(ctx context.Context, r graph.ResolverRoot, _ any, a any) (any, error) {
			ns, err := r.Query().Nodes(ctx, a.(*idsArgs).IDs)
			if err != nil {
				return nil, err
			}
			out := make([]any, len(ns))
			for i, n := range ns {
				out[i] = n // a nil Node stays a nil any
			}
			return out, nil
		}},
		"feature": relation(func(ctx context.Context, r graph.ResolverRoot, _ *query, a *idArgs) (*shipgraph.Feature, error) {
			return r.Query().Feature(ctx, a.ID)
		}),
		"features": relation(func(ctx context.Context, r graph.ResolverRoot, _ *query, a *connectionArgs[model.FeatureFilter, model.FeatureOrder]) (*shipgraph.FeatureConnection, error) {
			return r.Query().Features(ctx, a.First, a.After, a.Last, a.Before, a.Filter, a.OrderBy)
		}),
		"build": relation(func(ctx context.Context, r graph.ResolverRoot, _ *query, a *idArgs) (*shipgraph.Build, error) {
			return r.Query().Build(ctx, a.ID)
		}),
		"builds": relation(func(ctx context.Context, r graph.ResolverRoot, _ *query, a *connectionArgs[model.BuildFilter, model.BuildOrder]) (*shipgraph.BuildConnection, error) {
			return r.Query().Builds(ctx, a.First, a.After, a.Last, a.Before, a.Filter, a.OrderBy)
		}),
		"deployment": relation(func(ctx context.Context, r graph.ResolverRoot, _ *query, a *idArgs) (*shipgraph.Deployment, error) {
			return r.Query().Deployment(ctx, a.ID)
		}),
		"deployments": relation(func(ctx context.Context, r graph.ResolverRoot, _ *query, a *connectionArgs[model.DeploymentFilter, model.DeploymentOrder]) (*shipgraph.DeploymentConnection, error) {
			return r.Query().Deployments(ctx, a.First, a.After, a.Last, a.Before, a.Filter, a.OrderBy)
		}),
		"rateLimit": relation(func(ctx context.Context, r graph.ResolverRoot, _ *query, _ *noArgs) (*ratelimit.Status, error) {
			return r.Query().RateLimit(ctx)
		}),
	},

	"Feature": {
		"id":               globalID(shipgraph.KindFeature, func(f *shipgraph.Feature) int64 { return f.ID }),
		"name":             str(func(f *shipgraph.Feature) string { return f.Name }),
		"description":      str(func(f *shipgraph.Feature) string { return f.Description }),
		"complexityPoints": integer(func(f *shipgraph.Feature) int { return f.ComplexityPoints }),
		"status":           enum(func(f *shipgraph.Feature) shipgraph.FeatureStatus { return f.Status }),
		"version":          integer(func(f *shipgraph.Feature) int { return f.Version }),
		"createdAt":        timestamp(func(f *shipgraph.Feature) time.Time { return f.CreatedAt }),
		"updatedAt":        timestamp(func(f *shipgraph.Feature) time.Time { return f.UpdatedAt }),
		"testCases": relation(func(ctx context.Context, r graph.ResolverRoot, f *shipgraph.Feature, a *connectionArgs[model.TestCaseFilter, struct{}]) (*shipgraph.TestCaseConnection, error) {
			return r.Feature().TestCases(ctx, f, a.First, a.After, a.Last, a.Before, a.Filter)
		}),
		"builds": relation(func(ctx context.Context, r graph.ResolverRoot, f *shipgraph.Feature, a *connectionArgs[model.BuildFilter, struct{}]) (*shipgraph.BuildConnection, error) {
			return r.Feature().Builds(ctx, f, a.First, a.After, a.Last, a.Before, a.Filter)
		}),
		"deployments": relation(func(ctx context.Context, r graph.ResolverRoot, f *shipgraph.Feature, a *connectionArgs[model.DeploymentFilter, struct{}]) (*shipgraph.DeploymentConnection, error) {
			return r.Feature().Deployments(ctx, f, a.First, a.After, a.Last, a.Before, a.Filter)
		}),
	},
	"FeatureConnection": connection(
		(*shipgraph.FeatureConnection).Edges, (*shipgraph.FeatureConnection).Nodes, (*shipgraph.FeatureConnection).PageInfo,
		func(ctx context.Context, r graph.ResolverRoot, c *shipgraph.FeatureConnection) (int, error) {
			return r.FeatureConnection().TotalCount(ctx, c)
		}),
	"FeatureEdge": edge(func(e *shipgraph.FeatureEdge) (string, *shipgraph.Feature) { return e.Cursor, e.Node }),

	"TestCase": {
		"id":             globalID(shipgraph.KindTestCase, func(t *shipgraph.TestCase) int64 { return t.ID }),
		"title":          str(func(t *shipgraph.TestCase) string { return t.Title }),
		"steps":          str(func(t *shipgraph.TestCase) string { return t.Steps }),
		"expectedResult": str(func(t *shipgraph.TestCase) string { return t.ExpectedResult }),
		"status":         enum(func(t *shipgraph.TestCase) shipgraph.TestCaseStatus { return t.Status }),
		"version":        integer(func(t *shipgraph.TestCase) int { return t.Version }),
		"createdAt":      timestamp(func(t *shipgraph.TestCase) time.Time { return t.CreatedAt }),
		"updatedAt":      timestamp(func(t *shipgraph.TestCase) time.Time { return t.UpdatedAt }),
		"feature": relation(func(ctx context.Context, r graph.ResolverRoot, t *shipgraph.TestCase, _ *noArgs) (*shipgraph.Feature, error) {
			return r.TestCase().Feature(ctx, t)
		}),
	},
	"TestCaseConnection": connection(
		(*shipgraph.TestCaseConnection).Edges, (*shipgraph.TestCaseConnection).Nodes, (*shipgraph.TestCaseConnection).PageInfo,
		func(ctx context.Context, r graph.ResolverRoot, c *shipgraph.TestCaseConnection) (int, error) {
			return r.TestCaseConnection().TotalCount(ctx, c)
		}),
	"TestCaseEdge": edge(func(e *shipgraph.TestCaseEdge) (string, *shipgraph.TestCase) { return e.Cursor, e.Node }),

	"Build": {
		"id":         globalID(shipgraph.KindBuild, func(b *shipgraph.Build) int64 { return b.ID }),
		"number":     integer(func(b *shipgraph.Build) int { return b.Number }),
		"commitSha":  str(func(b *shipgraph.Build) string { return b.CommitSHA }),
		"branch":     str(func(b *shipgraph.Build) string { return b.Branch }),
		"status":     enum(func(b *shipgraph.Build) shipgraph.BuildStatus { return b.Status }),
		"startedAt":  optTimestamp(func(b *shipgraph.Build) *time.Time { return b.StartedAt }),
		"finishedAt": optTimestamp(func(b *shipgraph.Build) *time.Time { return b.FinishedAt }),
		"version":    integer(func(b *shipgraph.Build) int { return b.Version }),
		"createdAt":  timestamp(func(b *shipgraph.Build) time.Time { return b.CreatedAt }),
		"updatedAt":  timestamp(func(b *shipgraph.Build) time.Time { return b.UpdatedAt }),
		"feature": relation(func(ctx context.Context, r graph.ResolverRoot, b *shipgraph.Build, _ *noArgs) (*shipgraph.Feature, error) {
			return r.Build().Feature(ctx, b)
		}),
		"deployments": relation(func(ctx context.Context, r graph.ResolverRoot, b *shipgraph.Build, a *connectionArgs[model.DeploymentFilter, struct{}]) (*shipgraph.DeploymentConnection, error) {
			return r.Build().Deployments(ctx, b, a.First, a.After, a.Last, a.Before, a.Filter)
		}),
	},
	"BuildConnection": connection(
		(*shipgraph.BuildConnection).Edges, (*shipgraph.BuildConnection).Nodes, (*shipgraph.BuildConnection).PageInfo,
		func(ctx context.Context, r graph.ResolverRoot, c *shipgraph.BuildConnection) (int, error) {
			return r.BuildConnection().TotalCount(ctx, c)
		}),
	"BuildEdge": edge(func(e *shipgraph.BuildEdge) (string, *shipgraph.Build) { return e.Cursor, e.Node }),

	"Deployment": {
		"id":          globalID(shipgraph.KindDeployment, func(d *shipgraph.Deployment) int64 { return d.ID }),
		"environment": str(func(d *shipgraph.Deployment) string { return d.Environment }),
		"status":      enum(func(d *shipgraph.Deployment) shipgraph.DeploymentStatus { return d.Status }),
		"progress":    integer(func(d *shipgraph.Deployment) int { return d.Progress }),
		"error":       optStr(func(d *shipgraph.Deployment) *string { return d.Error }),
		"startedAt":   optTimestamp(func(d *shipgraph.Deployment) *time.Time { return d.StartedAt }),
		"finishedAt":  optTimestamp(func(d *shipgraph.Deployment) *time.Time { return d.FinishedAt }),
		"version":     integer(func(d *shipgraph.Deployment) int { return d.Version }),
		"createdAt":   timestamp(func(d *shipgraph.Deployment) time.Time { return d.CreatedAt }),
		"updatedAt":   timestamp(func(d *shipgraph.Deployment) time.Time { return d.UpdatedAt }),
		"stages":      values((*shipgraph.Deployment).Stages),
		"build": relation(func(ctx context.Context, r graph.ResolverRoot, d *shipgraph.Deployment, _ *noArgs) (*shipgraph.Build, error) {
			return r.Deployment().Build(ctx, d)
		}),
		"feature": relation(func(ctx context.Context, r graph.ResolverRoot, d *shipgraph.Deployment, _ *noArgs) (*shipgraph.Feature, error) {
			return r.Deployment().Feature(ctx, d)
		}),
		"events": relation(func(ctx context.Context, r graph.ResolverRoot, d *shipgraph.Deployment, a *connectionArgs[struct{}, struct{}]) (*shipgraph.EventConnection, error) {
			return r.Deployment().Events(ctx, d, a.First, a.After, a.Last, a.Before)
		}),
	},
	"DeploymentStage": {
		"name":       enum(func(s *shipgraph.DeploymentStage) shipgraph.StageName { return s.Name }),
		"status":     enum(func(s *shipgraph.DeploymentStage) shipgraph.StageStatus { return s.Status }),
		"startedAt":  optTimestamp(func(s *shipgraph.DeploymentStage) *time.Time { return s.StartedAt }),
		"finishedAt": optTimestamp(func(s *shipgraph.DeploymentStage) *time.Time { return s.FinishedAt }),
		"error":      optStr(func(s *shipgraph.DeploymentStage) *string { return s.Error }),
	},
	"DeploymentConnection": connection(
		(*shipgraph.DeploymentConnection).Edges, (*shipgraph.DeploymentConnection).Nodes, (*shipgraph.DeploymentConnection).PageInfo,
		func(ctx context.Context, r graph.ResolverRoot, c *shipgraph.DeploymentConnection) (int, error) {
			return r.DeploymentConnection().TotalCount(ctx, c)
		}),
	"DeploymentEdge": edge(func(e *shipgraph.DeploymentEdge) (string, *shipgraph.Deployment) { return e.Cursor, e.Node }),

	"DeploymentEvent": {
		"id":          globalID(shipgraph.KindDeploymentEvent, func(e *shipgraph.DeploymentEvent) int64 { return e.ID }),
		"sequence":    integer(func(e *shipgraph.DeploymentEvent) int { return e.Sequence }),
		"stage":       optEnum(func(e *shipgraph.DeploymentEvent) *shipgraph.StageName { return e.Stage }),
		"stageStatus": optEnum(func(e *shipgraph.DeploymentEvent) *shipgraph.StageStatus { return e.StageStatus }),
		"status":      enum(func(e *shipgraph.DeploymentEvent) shipgraph.DeploymentStatus { return e.Status }),
		"progress":    integer(func(e *shipgraph.DeploymentEvent) int { return e.Progress }),
		"message":     str(func(e *shipgraph.DeploymentEvent) string { return e.Message }),
		"occurredAt":  timestamp(func(e *shipgraph.DeploymentEvent) time.Time { return e.OccurredAt }),
		"deployment": relation(func(ctx context.Context, r graph.ResolverRoot, e *shipgraph.DeploymentEvent, _ *noArgs) (*shipgraph.Deployment, error) {
			return r.DeploymentEvent().Deployment(ctx, e)
		}),
	},
	"DeploymentEventConnection": connection(
		(*shipgraph.EventConnection).Edges, (*shipgraph.EventConnection).Nodes, (*shipgraph.EventConnection).PageInfo,
		func(ctx context.Context, r graph.ResolverRoot, c *shipgraph.EventConnection) (int, error) {
			return r.DeploymentEventConnection().TotalCount(ctx, c)
		}),
	"DeploymentEventEdge": edge(func(e *shipgraph.EventEdge) (string, *shipgraph.DeploymentEvent) { return e.Cursor, e.Node }),

	"PageInfo": {
		"hasNextPage":     boolean(func(p *shipgraph.PageInfo) bool { return p.HasNextPage }),
		"hasPreviousPage": boolean(func(p *shipgraph.PageInfo) bool { return p.HasPreviousPage }),
		"startCursor":     optStr(func(p *shipgraph.PageInfo) *string { return p.StartCursor }),
		"endCursor":       optStr(func(p *shipgraph.PageInfo) *string { return p.EndCursor }),
	},
	"RateLimit": {
		"cost":      integer(func(s *ratelimit.Status) int { return s.Cost }),
		"limit":     integer(func(s *ratelimit.Status) int { return s.Limit }),
		"remaining": integer(func(s *ratelimit.Status) int { return s.Remaining }),
		"resetAt":   timestamp(func(s *ratelimit.Status) time.Time { return s.ResetAt }),
	},
}

// typeOf names the schema type of an object of an interface field.
func typeOf(v any) string {
	switch v.(type) {
	case *shipgraph.Feature:
		return "Feature"
	case *shipgraph.TestCase:
		return "TestCase"
	case *shipgraph.Build:
		return "Build"
	case *shipgraph.Deployment:
		return "Deployment"
	case *shipgraph.DeploymentEvent:
		return "DeploymentEvent"
	}
	return ""
}

// query is the (empty) object of the root fields.
type query struct{}

// Arguments, decoded from the coerced argument map as gqlgen's generated
// code decodes them into the resolvers' parameters.
type (
	noArgs struct{}
	idArgs struct {
		ID string `json:"id"`
	}
	idsArgs struct {
		IDs []string `json:"ids"`
	}
	pageArgs struct {
		First  *int    `json:"first"`
		After  *string `json:"after"`
		Last   *int    `json:"last"`
		Before *string `json:"before"`
	}
	connectionArgs[F, O any] struct {
		pageArgs
		Filter  *F `json:"filter"`
		OrderBy *O `json:"orderBy"`
	}
)

// decode turns an argument map into A. The map has been validated and
// coerced (variables and argument defaults applied) by then; a value A
// cannot take sends the operation to gqlgen, which reports it. The
// defaults of input object fields are not applied: the only one a query
// can reach, an order's `direction: ASC`, is what the resolvers make of an
// empty direction too (TestQueryExecutorMatchesGqlgen orders without one).
func decode[A any](m map[string]any) (any, error) {
	a := new(A)
	if len(m) == 0 {
		return a, nil
	}
	if !validUTF8(m) {
		// json.Marshal would write the invalid bytes as U+FFFD, and the
		// resolver would answer another question than the one asked (a
		// string literal in a GET request's URL can hold any bytes;
		// gqlgen passes them on, and the validation refuses them).
		return nil, errInvalidUTF8
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return a, json.Unmarshal(b, a)
}

var errInvalidUTF8 = errors.New("queryexec: an argument is not valid UTF-8")

// validUTF8 reports whether every string in an argument value, map keys
// included, is valid UTF-8.
func validUTF8(v any) bool {
	switch v := v.(type) {
	case string:
		return utf8.ValidString(v)
	case map[string]any:
		for k, e := range v {
			if !utf8.ValidString(k) || !validUTF8(e) {
				return false
			}
		}
	case []any:
		for _, e := range v {
			if !validUTF8(e) {
				return false
			}
		}
	}
	return true
}

// relation binds a field served by a resolver that returns one object (nil
// for none).
func relation[T, A, C any](call func(ctx context.Context, r graph.ResolverRoot, obj *T, a *A) (*C, error)) binding {
	return binding{resolver: true, args: decode[A], resolve: func(ctx context.Context, r graph.ResolverRoot, obj any, a any) (any, error) {
		t, _ := obj.(*T) // nil for the root fields
		c, err := call(ctx, r, t, a.(*A))
		if err != nil || c == nil {
			return nil, err // never a typed nil
		}
		return c, nil
	}}
}

// connection binds a connection type's fields: edges, nodes and pageInfo
// are methods of the loaded page, totalCount a resolver.
func connection[C, E, N any](edges func(*C) []E, nodes func(*C) []*N, info func(*C) shipgraph.PageInfo,
	count func(context.Context, graph.ResolverRoot, *C) (int, error)) map[string]binding {
	return map[string]binding{
		"edges": values(func(c *C) ([]E, error) { return edges(c), nil }),
		"nodes": {resolve: func(_ context.Context, _ graph.ResolverRoot, obj any, _ any) (any, error) {
			items := nodes(obj.(*C))
			out := make([]any, len(items))
			for i, it := range items {
				out[i] = it
			}
			return out, nil
		}},
		"pageInfo": {resolve: func(_ context.Context, _ graph.ResolverRoot, obj any, _ any) (any, error) {
			p := info(obj.(*C))
			return &p, nil
		}},
		"totalCount": {resolver: true, resolve: func(ctx context.Context, r graph.ResolverRoot, obj any, _ any) (any, error) {
			n, err := count(ctx, r, obj.(*C))
			return scalarInt(n), err
		}},
	}
}

// edge binds an edge type's fields.
func edge[E, N any](get func(*E) (string, *N)) map[string]binding {
	return map[string]binding{
		"cursor": str(func(e *E) string { c, _ := get(e); return c }),
		"node": {resolve: func(_ context.Context, _ graph.ResolverRoot, obj any, _ any) (any, error) {
			if _, n := get(obj.(*E)); n != nil {
				return n, nil
			}
			return nil, nil
		}},
	}
}

// values binds a list of objects held by value.
func values[T, C any](get func(*T) ([]C, error)) binding {
	return binding{resolve: func(_ context.Context, _ graph.ResolverRoot, obj any, _ any) (any, error) {
		items, err := get(obj.(*T))
		if err != nil {
			return nil, err
		}
		out := make([]any, len(items))
		for i := range items {
			out[i] = &items[i]
		}
		return out, nil
	}}
}

// scalarInt is a resolver's Int: value writes it where an object would be
// written.
type scalarInt int

func str[T any](get func(*T) string) binding {
	return binding{leaf: func(buf []byte, obj any) ([]byte, error) { return appendString(buf, get(obj.(*T))), nil }}
}

func optStr[T any](get func(*T) *string) binding {
	return binding{leaf: func(buf []byte, obj any) ([]byte, error) {
		if s := get(obj.(*T)); s != nil {
			return appendString(buf, *s), nil
		}
		return append(buf, "null"...), nil
	}}
}

func integer[T any](get func(*T) int) binding {
	return binding{leaf: func(buf []byte, obj any) ([]byte, error) { return appendInt(buf, get(obj.(*T))), nil }}
}

func boolean[T any](get func(*T) bool) binding {
	return binding{leaf: func(buf []byte, obj any) ([]byte, error) { return appendBool(buf, get(obj.(*T))), nil }}
}

func enum[T any, E ~string](get func(*T) E) binding {
	return binding{leaf: func(buf []byte, obj any) ([]byte, error) { return appendString(buf, string(get(obj.(*T)))), nil }}
}

func optEnum[T any, E ~string](get func(*T) *E) binding {
	return binding{leaf: func(buf []byte, obj any) ([]byte, error) {
		if e := get(obj.(*T)); e != nil {
			return appendString(buf, string(*e)), nil
		}
		return append(buf, "null"...), nil
	}}
}

// timestamp binds a DateTime!: gqlgen turns a zero time into null, an
// error on a non-null field, so a zero time goes to gqlgen.
func timestamp[T any](get func(*T) time.Time) binding {
	return binding{leaf: func(buf []byte, obj any) ([]byte, error) {
		t := get(obj.(*T))
		if t.IsZero() {
			return buf, errFallback
		}
		return appendTime(buf, t), nil
	}}
}

func optTimestamp[T any](get func(*T) *time.Time) binding {
	return binding{leaf: func(buf []byte, obj any) ([]byte, error) {
		if t := get(obj.(*T)); t != nil && !t.IsZero() {
			return appendTime(buf, *t), nil
		}
		return append(buf, "null"...), nil
	}}
}

func globalID[T any](kind shipgraph.Kind, get func(*T) int64) binding {
	return binding{leaf: func(buf []byte, obj any) ([]byte, error) {
		buf = append(buf, '"')
		buf = shipgraph.AppendID(buf, kind, get(obj.(*T)))
		return append(buf, '"'), nil
	}}
}
