// Package limits bounds what a single GraphQL operation may ask of the
// server, before any of it runs: its depth, the number of nodes it may
// return (a cost model after GitHub's node limit), its aliases, its root
// fields and the tokens of its document. It also gives every query and
// mutation a deadline, so that a slow one cancels its database work instead
// of holding a connection for a client that gave up long ago.
//
// The checks exist because one small request can otherwise ask for an
// unbounded amount of work: a cyclic selection nested a hundred deep, a
// connection of a connection of a connection, the same field aliased a
// thousand times. Every bound has a default that admits every query the
// API's own clients send (GraphiQL's introspection query included) and can
// be changed through Config.
//
// Subscriptions per connection and connections per user are not limited
// here: the server has no WebSocket transport yet.
package limits

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// The defaults. Each is documented in the README's configuration table.
const (
	// DefaultMaxDepth is the smallest depth GraphiQL's introspection query
	// passes (its deepest path, __schema.types.fields.args.type followed by
	// nine ofType levels and a leaf, is 15 fields long). The deepest useful
	// data query, four connections read through edges { node }, is 13.
	DefaultMaxDepth = 15
	// DefaultMaxNodes is GitHub's node limit: a response may hold at most
	// half a million objects from connections.
	DefaultMaxNodes = 500_000
	// DefaultMaxAliases lets a client ask for a few variants of a field side
	// by side, not for the same expensive field a thousand times.
	DefaultMaxAliases = 30
	// DefaultMaxRootFields bounds the independent fetches (or mutations) one
	// request may bundle.
	DefaultMaxRootFields = 20
	// DefaultMaxTokens is some sixty times GraphiQL's introspection query
	// (163 tokens), room for large generated client documents, and far
	// below what the 1 MiB body limit would let through: parsing and
	// validating are themselves work an attacker can ask for.
	DefaultMaxTokens = 10_000
	// DefaultTimeout is GitHub's: an operation that has not finished in ten
	// seconds is cancelled.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxSubscriptions bounds the subscriptions of one WebSocket
	// connection: a dashboard watches a handful of deployments at once.
	DefaultMaxSubscriptions = 50
	// DefaultMaxConnections bounds one user's WebSocket connections on an
	// instance: a few browser tabs and a CLI.
	DefaultMaxConnections = 20
)

// Config holds the bounds. A zero field takes its default.
type Config struct {
	MaxDepth      int           // longest chain of nested fields, leaves included
	MaxNodes      int           // objects the connections of an operation may return
	MaxAliases    int           // aliased fields, counted as they execute (fragments expanded)
	MaxRootFields int           // distinct top-level fields
	MaxTokens     int           // lexical tokens of the document, enforced by the parser
	Timeout       time.Duration // execution time of a query or mutation

	MaxSubscriptions int // subscriptions running at once on one WebSocket connection
	MaxConnections   int // one user's WebSocket connections on an instance
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxDepth, DefaultMaxDepth)
	def(&c.MaxNodes, DefaultMaxNodes)
	def(&c.MaxAliases, DefaultMaxAliases)
	def(&c.MaxRootFields, DefaultMaxRootFields)
	def(&c.MaxTokens, DefaultMaxTokens)
	def(&c.MaxSubscriptions, DefaultMaxSubscriptions)
	def(&c.MaxConnections, DefaultMaxConnections)
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	return c
}

// The names of the limits, reported as extensions.limit so that a client
// can tell which one it hit without parsing the message.
const (
	LimitDepth      = "depth"
	LimitNodes      = "nodes"
	LimitAliases    = "aliases"
	LimitRootFields = "rootFields"
	LimitTokens     = "tokens"
	LimitTimeout    = "timeout"
)

// Stats are the measures of an operation that passed the limits.
type Stats struct {
	Depth      int
	RootFields int
	Aliases    int
	// Nodes is how many objects the operation's connections may return at
	// most: the cost the rate limiter charges for.
	Nodes int64
}

// statsKey names Stats among the operation context's extension stats.
const statsKey = "Limits"

// StatsOf returns the measures of the operation, or nil when the limits
// did not run for it.
func StatsOf(op *graphql.OperationContext) *Stats {
	if op == nil {
		return nil
	}
	s, _ := op.Stats.GetExtension(statsKey).(*Stats)
	return s
}

// NodesOf returns the node count of the operation, 0 when unknown. It is
// the shape the rate limiter asks for its cost.
func NodesOf(op *graphql.OperationContext) int64 {
	if s := StatsOf(op); s != nil {
		return s.Nodes
	}
	return 0
}

// Install puts the limits on srv: the parser's token limit and the
// Extension that checks the rest.
func Install(srv *handler.Server, cfg Config, log *slog.Logger) {
	ext := New(cfg, log)
	srv.SetParserTokenLimit(ext.cfg.MaxTokens)
	srv.Use(ext)
}

// Extension is the gqlgen extension that enforces Config. Its checks run
// after parsing and validation and before execution, so a rejected
// operation runs nothing; its deadline runs around execution.
type Extension struct {
	cfg    Config
	schema *ast.Schema
	log    *slog.Logger
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
	graphql.OperationInterceptor
	graphql.ResponseInterceptor
} = (*Extension)(nil)

// New returns the extension for cfg. Log, which may be nil, records
// operations that time out. The parser token limit is not part of the
// extension; Install sets it.
func New(cfg Config, log *slog.Logger) *Extension {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Extension{cfg: cfg.withDefaults(), log: log}
}

// ExtensionName implements graphql.HandlerExtension.
func (*Extension) ExtensionName() string { return "Limits" }

// Validate implements graphql.HandlerExtension; it keeps the schema, whose
// definitions the cost model needs.
func (e *Extension) Validate(es graphql.ExecutableSchema) error {
	e.schema = es.Schema()
	return nil
}

// MutateOperationContext measures the operation and refuses it when it
// exceeds a limit. The measures are kept in the operation's stats (see
// StatsOf) for the rate limiter.
func (e *Extension) MutateOperationContext(ctx context.Context, op *graphql.OperationContext) *gqlerror.Error {
	st, err := measure(op.Doc, op.Operation, op.Variables, e.cfg)
	if err != nil {
		return err
	}
	op.Stats.SetExtension(statsKey, st)
	return nil
}

// errTimeout is the cause of an operation's deadline, which tells it apart
// from a client that went away or a deadline set by someone else.
var errTimeout = errors.New("operation timed out")

// InterceptOperation gives a query or mutation its deadline. Subscriptions
// live as long as their client wants and get none.
func (e *Extension) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	op := graphql.GetOperationContext(ctx)
	if op.Operation != nil && op.Operation.Operation == ast.Subscription {
		return next(ctx)
	}
	deadline := time.Now().Add(e.cfg.Timeout)
	ctx, cancel := context.WithDeadlineCause(ctx, deadline, errTimeout)
	respond := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		// The transport may call the handler with a context of its own: the
		// deadline goes on that one too, so execution sees it either way.
		ctx, cancelResponse := context.WithDeadlineCause(ctx, deadline, errTimeout)
		defer cancelResponse()
		resp := respond(ctx)
		if errors.Is(context.Cause(ctx), errTimeout) {
			e.log.WarnContext(ctx, "operation timed out", "operation", op.OperationName, "timeout", e.cfg.Timeout)
		}
		if resp == nil || resp.HasNext == nil || !*resp.HasNext {
			cancel()
		}
		return resp
	}
}

// TimeoutError returns the error to report for a resolver that failed
// because its operation ran out of time (the cancelled database call looks
// like an internal error from inside), or nil when the operation did not
// time out. The error presenter calls it: a field interceptor would do the
// same, but would wrap every field of every object, which costs a large
// nested read a fifth of its allocations.
func TimeoutError(ctx context.Context, timeout time.Duration) *gqlerror.Error {
	if !errors.Is(context.Cause(ctx), errTimeout) {
		return nil
	}
	return &gqlerror.Error{
		Message: fmt.Sprintf("the operation did not finish within the request timeout of %s and was cancelled", timeout),
		Extensions: map[string]any{
			"code":  string(shipgraph.CodeTimeout),
			"limit": LimitTimeout,
			"max":   timeout.String(),
		},
	}
}

// InterceptResponse gives the parser's token limit error the same shape as
// the other limits' errors.
func (e *Extension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil {
		return nil
	}
	for i, err := range resp.Errors {
		if code, _ := err.Extensions["code"].(string); code == errcode.ParseFailed && strings.HasPrefix(err.Message, "exceeded token limit") {
			resp.Errors[i] = limitError(LimitTokens, e.cfg.MaxTokens, -1,
				"the document has more than %d tokens, the limit", e.cfg.MaxTokens)
		}
	}
	return resp
}

// limitError is the error of an operation refused by a limit: a
// BAD_USER_INPUT error naming the limit (extensions.limit), its maximum
// (extensions.max) and, when known, the operation's value
// (extensions.value).
func limitError(limit string, max int, value int64, format string, args ...any) *gqlerror.Error {
	ext := map[string]any{"code": string(shipgraph.CodeBadUserInput), "limit": limit, "max": max}
	if value >= 0 {
		ext["value"] = value
	}
	return &gqlerror.Error{Message: fmt.Sprintf(format, args...), Extensions: ext}
}
