package queryexec

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/shipgraph/shipgraph/graph"
	"github.com/shipgraph/shipgraph/graph/model"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// Subscriptions: a dashboard's subscription renders every event it
// receives, and thousands of them watch the same deployments, so the
// per-event cost of gqlgen's executor (a field context, a context value
// and a closure per field) is paid thousands of times per event. A
// subscription whose selection this package knows and whose fields need
// no resolver (the event's own fields, the deployment's stages) is served
// here: gqlgen still parses, validates, limits and authorizes it, and its
// transports still deliver it.

// stream binds a subscription field: open calls its resolver and returns
// the function that waits for the next value (false when the stream ends).
type stream struct {
	args func(map[string]any) (any, error)
	open func(ctx context.Context, r graph.ResolverRoot, args any) (next func(context.Context) (any, bool), err error)
}

var streams = map[string]stream{
	"deploymentProgress": streamOf(func(ctx context.Context, r graph.ResolverRoot, a *progressArgs) (<-chan *shipgraph.DeploymentEvent, error) {
		return r.Subscription().DeploymentProgress(ctx, a.DeploymentID, a.AfterSequence)
	}),
	"deploymentUpdated": streamOf(func(ctx context.Context, r graph.ResolverRoot, a *updatedArgs) (<-chan *shipgraph.Deployment, error) {
		return r.Subscription().DeploymentUpdated(ctx, a.Filter)
	}),
}

type (
	progressArgs struct {
		DeploymentID  string `json:"deploymentId"`
		AfterSequence *int   `json:"afterSequence"`
	}
	updatedArgs struct {
		Filter *model.DeploymentFilter `json:"filter"`
	}
)

func streamOf[A, T any](open func(context.Context, graph.ResolverRoot, *A) (<-chan *T, error)) stream {
	return stream{args: decode[A], open: func(ctx context.Context, r graph.ResolverRoot, a any) (func(context.Context) (any, bool), error) {
		ch, err := open(ctx, r, a.(*A))
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context) (any, bool) {
			select {
			case v, ok := <-ch:
				if !ok {
					return nil, false
				}
				if v == nil {
					return nil, true // never a typed nil
				}
				return v, true
			case <-ctx.Done():
				return nil, false
			}
		}, nil
	}}
}

// subscribe returns the handler of a subscription this package serves,
// or nil when gqlgen must serve it.
func (s *Schema) subscribe(ctx context.Context, opCtx *graphql.OperationContext) (h graphql.ResponseHandler) {
	defer func() {
		if recover() != nil {
			h = nil // gqlgen runs it again, and reports the panic as it does
		}
	}()
	fields := graphql.CollectFields(opCtx, opCtx.Operation.SelectionSet, []string{"Subscription"})
	if len(fields) != 1 || len(fields[0].Deferrables) > 0 {
		return nil
	}
	cf := fields[0]
	def := s.Schema().Subscription
	st, ok := streams[cf.Name]
	if def == nil || !ok {
		return nil
	}
	fd := def.Fields.ForName(cf.Name)
	pl := newPlanner(s.Schema(), opCtx)
	f := &field{name: cf.Name, key: responseKey(cf.Alias), nullable: !fd.Type.NonNull}
	if fd.Type.Elem != nil || !pl.directives(fd) || !pl.children(f, fd.Type.Name(), cf.Selections) || !resolverFree(f.child) {
		return nil
	}
	args, err := st.args(cf.ArgumentMap(opCtx.Variables))
	if err != nil {
		return nil
	}
	for _, r := range pl.roles {
		if _, err := s.Directives.HasRole(ctx, nil, nothing, r); err != nil {
			return nil // gqlgen refuses it, with its error
		}
	}
	next, err := st.open(ctx, s.Resolvers, args)
	if err != nil {
		// The resolver only checks its arguments before it opens the
		// stream: gqlgen calls it again and reports the error.
		return nil
	}
	return func(ctx context.Context) *graphql.Response {
		v, ok := next(ctx)
		if !ok {
			return nil
		}
		buf := append(make([]byte, 0, 256), '{')
		buf = append(buf, f.key...)
		buf, err := s.element(ctx, buf, f, v, f.nullable)
		if err != nil {
			graphql.AddErrorf(ctx, "the requested element is null which the schema does not allow")
			return &graphql.Response{Data: append(append(append([]byte{'{'}, f.key...), "null"...), '}')}
		}
		return &graphql.Response{Data: append(buf, '}')}
	}
}

// resolverFree reports whether p and its children need no resolver: every
// value is the event's own, so rendering it cannot fail or wait.
func resolverFree(p *plan) bool {
	if p == nil {
		return false
	}
	for _, f := range p.fields {
		if f.resolver {
			return false
		}
		if f.child != nil && !resolverFree(f.child) {
			return false
		}
		for _, c := range f.byType {
			if !resolverFree(c) {
				return false
			}
		}
	}
	return true
}
