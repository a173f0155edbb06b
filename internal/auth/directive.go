package auth

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// errUnauthenticated answers a protected field asked for without a token.
var errUnauthenticated = shipgraph.Errorf(shipgraph.CodeUnauthenticated, "authentication required: send a token as Authorization: Bearer <token>")

// HasRole implements the @hasRole(role:) schema directive: without a
// principal the field fails with UNAUTHENTICATED, with a principal that
// lacks role (see Principal.Has) with FORBIDDEN, and the resolver never
// runs, so a refused mutation writes nothing. Being a directive, each
// field's rule is visible in the SDL.
func HasRole(ctx context.Context, obj any, next graphql.Resolver, role Role) (any, error) {
	p, ok := PrincipalFrom(ctx)
	if !ok {
		return nil, errUnauthenticated
	}
	if !p.Has(role) {
		return nil, shipgraph.Errorf(shipgraph.CodeForbidden, "requires the %s role", role)
	}
	return next(ctx)
}

// IntrospectionGuard is a gqlgen extension that refuses introspection
// (__schema, __type) to anonymous callers unless AllowAnonymous is set.
//
// Why: the schema is no secret in itself (it is served at /schema.graphql
// in development and is in every client's repository), but an open
// introspection endpoint is the first step of most automated GraphQL
// attacks, and the OWASP cheat sheet advises against it in production. Any
// valid token, whatever its roles, may introspect: a client that can call
// the API may know its shape. Dev mode sets AllowAnonymous, so GraphiQL's
// docs work with no setup.
//
// It checks the operation once, before execution, rather than in a field
// middleware that would run for every field of every response; __typename
// stays open, since it reveals nothing.
type IntrospectionGuard struct {
	// AllowAnonymous lets callers without a token introspect.
	AllowAnonymous bool
}

var (
	_ graphql.HandlerExtension        = IntrospectionGuard{}
	_ graphql.OperationContextMutator = IntrospectionGuard{}
)

// ExtensionName implements graphql.HandlerExtension.
func (IntrospectionGuard) ExtensionName() string { return "IntrospectionGuard" }

// Validate implements graphql.HandlerExtension.
func (IntrospectionGuard) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator: it
// refuses the whole operation when an anonymous caller introspects.
func (g IntrospectionGuard) MutateOperationContext(ctx context.Context, opCtx *graphql.OperationContext) *gqlerror.Error {
	if g.AllowAnonymous || opCtx.Operation == nil {
		return nil
	}
	if _, ok := PrincipalFrom(ctx); ok {
		return nil
	}
	if !introspects(opCtx.Operation.SelectionSet, 0) {
		return nil
	}
	se := shipgraph.Errorf(shipgraph.CodeUnauthenticated, "introspection requires a token: send Authorization: Bearer <token>")
	return &gqlerror.Error{Message: se.Message, Err: se, Extensions: map[string]any{"code": string(se.Code)}}
}

// introspects reports whether a root selection set asks for __schema or
// __type, directly or through fragments (the only places those fields
// exist, per the spec, are on the query root). Validation has already
// refused fragment cycles; depth is a second guard.
func introspects(set ast.SelectionSet, depth int) bool {
	if depth > 32 {
		return true // refuse what cannot be checked
	}
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if sel.Name == "__schema" || sel.Name == "__type" {
				return true
			}
		case *ast.InlineFragment:
			if introspects(sel.SelectionSet, depth+1) {
				return true
			}
		case *ast.FragmentSpread:
			if sel.Definition != nil && introspects(sel.Definition.SelectionSet, depth+1) {
				return true
			}
		}
	}
	return false
}
