package main

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/shipgraph/shipgraph/internal/auth"
	"github.com/shipgraph/shipgraph/internal/metrics"
	"github.com/shipgraph/shipgraph/internal/postgres"
	"github.com/shipgraph/shipgraph/internal/requestlog"
)

// Observation: what the request log line and the metrics learn about
// GraphQL operations, WebSocket connections and routes. The log line
// itself is written by withRequestID (routes.go).
//
// Long-lived requests: an SSE request carries one operation, so its request
// line (written when the stream ends) is the operation's. A WebSocket
// connection carries many: each operation on it is logged on a line of its
// own, "operation", when it ends (a subscription when it completes or the
// connection closes), with the connection's request_id, its own duration,
// SQL statement count and error codes; the connection's "request" line
// comes when the socket closes, with its user.

// operationObserver is the gqlgen extension that fills the request's record
// (operation name and type, caller, error codes) and measures each
// operation. Install it first, so that it is the outermost interceptor and
// sees every response, the refusals of the other extensions included.
type operationObserver struct {
	Log     *slog.Logger
	Metrics *metrics.Metrics
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
	graphql.ResponseInterceptor
} = operationObserver{}

// ExtensionName implements graphql.HandlerExtension.
func (operationObserver) ExtensionName() string { return "Observer" }

// Validate implements graphql.HandlerExtension.
func (operationObserver) Validate(graphql.ExecutableSchema) error { return nil }

// inOperationKey marks the context of an operation that InterceptOperation
// watches, so that InterceptResponse leaves its responses to it.
type inOperationKey struct{}

// InterceptOperation watches an operation that is about to run, until its
// last response.
func (o operationObserver) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	op := graphql.GetOperationContext(ctx)
	ctx, w := o.watch(ctx, op)
	if w.subscription {
		o.Metrics.SubscriptionStarted()
		// A subscription's context ends when the client completes it or
		// the connection closes, whether or not the transport asks for a
		// last response.
		context.AfterFunc(ctx, w.finish)
	}
	respond := next(context.WithValue(ctx, inOperationKey{}, true))
	return func(ctx context.Context) *graphql.Response {
		resp := respond(ctx)
		if resp == nil {
			w.finish()
			return nil
		}
		w.errors(resp.Errors)
		if !w.subscription && (resp.HasNext == nil || !*resp.HasNext) {
			w.finish()
		}
		return resp
	}
}

// InterceptResponse reports the operations that never ran: refused by
// parsing, validation, a limit or the rate limit. (The responses of running
// operations pass through here too, and are left to InterceptOperation.)
func (o operationObserver) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if ctx.Value(inOperationKey{}) != nil || !graphql.HasOperationContext(ctx) {
		return resp
	}
	_, w := o.watch(ctx, graphql.GetOperationContext(ctx))
	if resp != nil {
		w.errors(resp.Errors)
	}
	w.finish()
	return resp
}

// watched is one operation being observed.
type watched struct {
	o            operationObserver
	ctx          context.Context
	rec          *requestlog.Record
	own          bool // rec is the operation's own (WebSocket): log it when it ends
	name, typ    string
	subscription bool
	start        time.Time
	once         sync.Once
}

// watch starts observing op. On a WebSocket connection the operation gets
// a record and a statement counter of its own.
func (o operationObserver) watch(ctx context.Context, op *graphql.OperationContext) (context.Context, *watched) {
	w := &watched{o: o, start: op.Stats.OperationStart}
	if w.start.IsZero() {
		w.start = time.Now()
	}
	if op.Operation != nil {
		// Only a parsed operation's name: an invalid request's
		// operationName is whatever the client wrote.
		w.name, w.typ = op.Operation.Name, string(op.Operation.Operation)
		w.subscription = op.Operation.Operation == ast.Subscription
	}
	w.rec = requestlog.From(ctx)
	user := callerOf(ctx)
	if w.rec != nil && w.rec.Multiplexed {
		w.rec.SetUser(user)
		ctx, w.rec = requestlog.New(ctx, w.rec.RequestID)
		ctx = postgres.WithStatementCounter(ctx)
		w.own = true
	}
	w.ctx = ctx
	w.rec.SetOperation(w.name, w.typ)
	w.rec.SetUser(user)
	return ctx, w
}

// errors records the codes of a response's errors.
func (w *watched) errors(errs gqlerror.List) {
	if len(errs) == 0 {
		return
	}
	codes := make([]string, len(errs))
	for i, e := range errs {
		codes[i], _ = e.Extensions["code"].(string)
		if codes[i] == "" {
			codes[i] = "UNKNOWN"
		}
	}
	w.rec.AddErrors(codes...)
	w.o.Metrics.CountErrors(codes...)
}

// finish reports the operation, once.
func (w *watched) finish() {
	w.once.Do(func() {
		d := time.Since(w.start)
		statements := postgres.StatementCount(w.ctx)
		w.o.Metrics.ObserveOperation(metrics.Operation{
			Name: w.name, Type: w.typ, Codes: w.rec.Summary().Codes, Duration: d, Statements: statements,
		})
		if w.own {
			attrs := append([]slog.Attr{
				slog.String("request_id", w.rec.RequestID),
				slog.Duration("duration", d),
				slog.Int64("sql_statements", statements),
			}, w.rec.Attrs()...)
			w.o.Log.LogAttrs(w.ctx, slog.LevelInfo, "operation", attrs...)
		}
		// Last, so that a subscription is counted out only once it is
		// reported.
		if w.subscription {
			w.o.Metrics.SubscriptionEnded()
		}
	})
}

// callerOf names the caller for the log: the token's subject, "" when
// anonymous.
func callerOf(ctx context.Context) string {
	if p, ok := auth.PrincipalFrom(ctx); ok {
		return p.Subject
	}
	return ""
}

// isWebSocket tells a WebSocket upgrade, whose operations are logged one
// by one.
func isWebSocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// recordRoute notes the pattern of the route that served a request, for
// the HTTP metrics: the pattern, never the path, which clients choose.
// ServeMux sets it on the request it is handed.
func recordRoute(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { requestlog.From(r.Context()).SetRoute(r.Pattern) }()
		mux.ServeHTTP(w, r)
	})
}

type wsCountedKey struct{}

// countWebSockets wraps the WebSocket init and close functions to count
// open connections: in when connection_init is accepted, out when that
// connection closes. It also names the connection's user on its log line.
func countWebSockets(m *metrics.Metrics, init transport.WebsocketInitFunc, closed transport.WebsocketCloseFunc) (transport.WebsocketInitFunc, transport.WebsocketCloseFunc) {
	return func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
			ctx, payload, err := init(ctx, p)
			if err != nil {
				return ctx, payload, err
			}
			requestlog.From(ctx).SetUser(callerOf(ctx))
			m.WebSocketOpened()
			return context.WithValue(ctx, wsCountedKey{}, true), payload, nil
		}, func(ctx context.Context, code int) {
			closed(ctx, code)
			if ctx.Value(wsCountedKey{}) != nil {
				m.WebSocketClosed()
			}
		}
}

// dbPoolStats reads pgxpool's stats for the metrics.
func dbPoolStats(pool *pgxpool.Pool) func() metrics.DBPoolStats {
	return func() metrics.DBPoolStats {
		s := pool.Stat()
		return metrics.DBPoolStats{
			Acquired: s.AcquiredConns(), Idle: s.IdleConns(), Constructing: s.ConstructingConns(),
			Total: s.TotalConns(), Max: s.MaxConns(),
			Acquires: s.AcquireCount(), EmptyAcquires: s.EmptyAcquireCount(), CanceledAcquires: s.CanceledAcquireCount(),
			NewConns: s.NewConnsCount(), AcquireWait: s.AcquireDuration(),
		}
	}
}

// redisPoolStats reads a go-redis pool's stats for the metrics.
func redisPoolStats(pool interface{ PoolStats() *goredis.PoolStats }) func() metrics.RedisPoolStats {
	return func() metrics.RedisPoolStats {
		s := pool.PoolStats()
		return metrics.RedisPoolStats{
			Total: s.TotalConns, Idle: s.IdleConns,
			Hits: s.Hits, Misses: s.Misses, Timeouts: s.Timeouts, Stale: s.StaleConns,
		}
	}
}
