package tracing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// InstrumentationName names the tracer of Shipgraph's own spans.
const InstrumentationName = "github.com/shipgraph/shipgraph"

// GraphQL is the gqlgen extension that traces operations: a span per
// operation ("query OperationName") and one per resolver field (a root
// field, or a field with a resolver of its own: those are the ones that
// go through a loader or the database; plain struct fields get none).
// Install it first, so that its operation span holds the work of the
// other extensions.
type GraphQL struct {
	Tracer trace.Tracer
}

// GraphQL returns the extension for t, or nil when tracing is off (then
// install nothing: Enabled says which).
func (t *Tracing) GraphQL() graphql.HandlerExtension {
	if t == nil {
		return nil
	}
	return GraphQL{Tracer: t.Tracer(InstrumentationName)}
}

var (
	_ graphql.HandlerExtension    = GraphQL{}
	_ graphql.ResponseInterceptor = GraphQL{}
	_ graphql.FieldInterceptor    = GraphQL{}
)

// ExtensionName implements graphql.HandlerExtension.
func (GraphQL) ExtensionName() string { return "Tracing" }

// Validate implements graphql.HandlerExtension.
func (GraphQL) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptResponse implements graphql.ResponseInterceptor: the operation
// span. gqlgen runs response interceptors around the execution of a query
// or mutation, around each event of a subscription, and around the answer
// to a request it refused (parse or validation errors), so each of those
// gets a span.
func (g GraphQL) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	name := "graphql"
	var attrs []attribute.KeyValue
	if graphql.HasOperationContext(ctx) {
		oc := graphql.GetOperationContext(ctx)
		opName := oc.OperationName
		if oc.Operation != nil {
			name = string(oc.Operation.Operation)
			attrs = append(attrs, attribute.String("graphql.operation.type", name))
			if oc.Operation.Name != "" {
				opName = oc.Operation.Name
			}
		}
		if opName != "" {
			name += " " + opName
			attrs = append(attrs, attribute.String("graphql.operation.name", opName))
		}
		if oc.RawQuery != "" {
			// The document's hash rather than its text: it groups the spans
			// of one query without copying every document into the traces
			// (and matches what persisted queries are keyed by).
			sum := sha256.Sum256([]byte(oc.RawQuery))
			attrs = append(attrs, attribute.String("graphql.document.hash", "sha256:"+hex.EncodeToString(sum[:])))
		}
	}
	ctx, span := g.Tracer.Start(ctx, name, trace.WithAttributes(attrs...))
	defer span.End()
	resp := next(ctx)
	if resp != nil && len(resp.Errors) > 0 {
		span.SetAttributes(attribute.Int("graphql.errors", len(resp.Errors)))
		span.SetStatus(codes.Error, resp.Errors[0].Message)
	}
	return resp
}

// InterceptField implements graphql.FieldInterceptor: a span per resolver
// field, named "Type.field".
func (g GraphQL) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !fc.IsResolver {
		return next(ctx)
	}
	ctx, end := g.Resolve(ctx, fc.Object, fc.Field.Name)
	res, err := next(ctx)
	end(err)
	return res, err
}

// Resolve starts the span of a resolver call of object's field, for an
// executor that runs resolvers without gqlgen's field interceptors (see
// internal/queryexec); end ends it with the resolver's error.
func (g GraphQL) Resolve(ctx context.Context, object, field string) (_ context.Context, end func(error)) {
	ctx, span := g.Tracer.Start(ctx, object+"."+field)
	return ctx, func(err error) {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}
