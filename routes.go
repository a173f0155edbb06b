package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/shipgraph/shipgraph/graph"
	"github.com/shipgraph/shipgraph/internal/auth"
	"github.com/shipgraph/shipgraph/internal/browser"
	"github.com/shipgraph/shipgraph/internal/graphiql"
	"github.com/shipgraph/shipgraph/internal/graphqlhttp"
	"github.com/shipgraph/shipgraph/internal/introspection"
	"github.com/shipgraph/shipgraph/internal/limits"
	"github.com/shipgraph/shipgraph/internal/live"
	"github.com/shipgraph/shipgraph/internal/metrics"
	"github.com/shipgraph/shipgraph/internal/persisted"
	"github.com/shipgraph/shipgraph/internal/postgres"
	"github.com/shipgraph/shipgraph/internal/queryexec"
	"github.com/shipgraph/shipgraph/internal/ratelimit"
	"github.com/shipgraph/shipgraph/internal/redis"
	"github.com/shipgraph/shipgraph/internal/requestlog"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
	"github.com/shipgraph/shipgraph/internal/tracing"
	"github.com/shipgraph/shipgraph/internal/wsprotocol"
	"github.com/shipgraph/shipgraph/loaders"
	"github.com/shipgraph/shipgraph/resolvers"
)

// readiness is what /readyz asks.
type readiness interface {
	Ping(ctx context.Context) error
	Pending(ctx context.Context) (int, error)
}

// serverDeps are what NewServer wires together.
type serverDeps struct {
	Logger  *slog.Logger
	Store   shipgraph.Store
	Ready   readiness
	Config  config
	Version string

	// Auth verifies the bearer tokens of /graphql and /schema.graphql;
	// required.
	Auth *auth.Authenticator
	// Dev (serve --dev) opens introspection and /schema.graphql to
	// anonymous callers; otherwise they need a token.
	Dev bool
	// GraphiQLHeaders pre-fill GraphiQL's headers editor: dev mode's admin
	// token, so exploring needs no setup. Never set outside dev mode: the
	// page embeds them for anyone who loads it.
	GraphiQLHeaders map[string]string

	// Redis, when configured, keeps what instances share through this
	// handler: rate limit counts and registered persisted queries; nil
	// keeps them in this process. (The event bus and the entity cache,
	// which serve also keeps in Redis, come as Bus and Store.)
	Redis *redis.Client
	// TrustedDocuments, when set, is trusted documents mode: only the
	// manifest's operations run, and GraphiQL is off.
	TrustedDocuments *persisted.Manifest
	// Bus delivers committed deployment changes to subscriptions; Store
	// must publish on it (live.Publisher). Nil: an in-process bus that
	// nothing publishes on, for handlers that serve no subscriptions.
	Bus live.Bus
	// Hub serves deploymentProgress from Bus and Store; nil: one made
	// here with the configured refill.
	Hub *live.Hub
	// Metrics records what /metrics serves; nil: fresh metrics that only
	// this handler records.
	Metrics *metrics.Metrics

	// Tracing, when on, traces requests, operations and resolvers (see
	// internal/tracing); nil is off.
	Tracing *tracing.Tracing
}

// NewServer returns the whole HTTP API. All routes are here.
func NewServer(d serverDeps) http.Handler {
	if d.Metrics == nil {
		d.Metrics = metrics.New(d.Version)
	}
	mux := http.NewServeMux()
	authenticate := func(h http.Handler) http.Handler { return auth.Middleware(d.Auth, logRejectedToken(d.Logger), h) }
	mux.Handle("/graphql", authenticate(graphQLHandler(d)))
	explorer := graphiql.Handler(graphiql.Config{Endpoint: "/graphql", Title: "Shipgraph", DefaultQuery: defaultQuery, Headers: d.GraphiQLHeaders})
	if d.TrustedDocuments != nil {
		explorer = graphiQLOff
	}
	mux.Handle("GET /{$}", explorer)
	mux.Handle("GET /graphiql/", explorer)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": d.Version})
	})
	mux.Handle("GET /readyz", readyHandler(d.Ready))
	var sdl http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(schemaSDL)
	})
	if !d.Dev {
		// The SDL tells what introspection tells: the same rule guards it
		// (see auth.IntrospectionGuard).
		sdl = authenticate(auth.RequireToken(sdl))
	}
	if d.Config.Introspection {
		// With introspection off the schema is private: the SDL too.
		mux.Handle("GET /schema.graphql", sdl)
	}
	if d.Config.MetricsAddr == "" {
		// Unless SHIPGRAPH_METRICS_ADDR moves them to a listener of their own.
		mux.Handle("GET /metrics", d.Metrics.Handler())
	}
	// The browser policy sits in front of every route: CORS for allowed
	// origins, and no POST or WebSocket from a foreign page.
	policy := browser.NewPolicy(d.Config.CORSOrigins...)
	return d.Tracing.Handler(withRequestID(withRecover(policy.Handler(recordRoute(mux)), d.Logger), d.Logger, d.Metrics))
}

// graphQLHandler is the GraphQL endpoint: transports, caches, error
// presentation, per-response loaders, operation limits and rate limits.
func graphQLHandler(d serverDeps) http.Handler {
	if d.Bus == nil {
		d.Bus = &live.Memory{}
	}
	if d.Hub == nil {
		d.Hub = &live.Hub{Bus: d.Bus, Log: d.Store, Refill: d.Config.LiveRefill}
	}
	cfg := graph.Config{
		Resolvers:  &resolvers.Resolver{Store: d.Store, Hub: d.Hub},
		Directives: graph.DirectiveRoot{HasRole: auth.HasRole},
	}
	var schema graphql.ExecutableSchema = graph.NewExecutableSchema(cfg)
	if d.Config.FastQueries {
		// Queries run on queryexec, which answers them with the same
		// resolvers without gqlgen's per-field cost; everything else, and
		// any query that fails, on gqlgen's generated executor.
		fast := queryexec.New(schema, cfg.Resolvers, cfg.Directives)
		fast.Observe = func(o queryexec.Outcome, op ast.Operation) { d.Metrics.CountExecutor(string(o), string(op)) }
		if d.Tracing.Enabled() {
			fast.Resolve = d.Tracing.GraphQL().(tracing.GraphQL).Resolve
		}
		schema = fast
	}
	srv := handler.New(schema)
	conns := &limits.Connections{Max: d.Config.Limits.MaxConnections}
	wsInit, wsClose := countWebSockets(d.Metrics, websocketInit(d.Auth, conns), releaseConnection)
	acceptOptions := websocket.AcceptOptions{OriginPatterns: browser.NewPolicy(d.Config.CORSOrigins...).OriginPatterns()}
	// Transports match in the order they are added: the event stream and
	// the WebSocket upgrades before plain POST and GET.
	srv.AddTransport(transport.SSE{})
	// graphql-transport-ws: our own transport (the protocol's close codes,
	// no goroutine per subscription, coalesced writes; see wsprotocol).
	srv.AddTransport(wsprotocol.Transport{
		AcceptOptions: acceptOptions,
		Init: func(ctx context.Context, p transport.InitPayload) (context.Context, error) {
			ctx, _, err := wsInit(ctx, p)
			return ctx, err
		},
		Closed: wsClose,
		// Without connection_init by then: 4408.
		InitTimeout:  d.Config.WSInitTimeout,
		PingInterval: d.Config.WSKeepAlive,
	})
	// The legacy graphql-ws protocol: gqlgen's transport.
	srv.AddTransport(transport.Websocket{
		Implementation: transport.CoderWebsocketImplementation{AcceptOptions: acceptOptions},
		InitFunc:       wsInit,
		CloseFunc:      wsClose,
		InitTimeout:    d.Config.WSInitTimeout,
		// KeepAlivePingInterval is the legacy protocol's keep-alive.
		KeepAlivePingInterval: d.Config.WSKeepAlive,
	})
	srv.AddTransport(graphqlhttp.Transport{MaxBodyBytes: d.Config.MaxBodyBytes})
	// Parsed and validated documents are cached by query text: dashboards
	// send the same few queries over and over.
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	if d.Tracing.Enabled() {
		// First, so that the operation's span holds the other extensions' work.
		srv.Use(d.Tracing.GraphQL())
	}
	// Before every check, so that it sees every response, the checks'
	// refusals too.
	srv.Use(operationObserver{Log: d.Logger, Metrics: d.Metrics})
	if d.Config.Introspection {
		srv.Use(extension.Introspection{})
	} else {
		srv.Use(introspection.Refuse{})
	}
	// Where introspection is on, anonymous callers get it only in dev mode.
	srv.Use(auth.IntrospectionGuard{AllowAnonymous: d.Dev})
	if !d.Config.FieldSuggestions {
		// gqlgen's switch silences two of the rules that suggest names;
		// WithoutSuggestions silences the rest.
		srv.SetDisableSuggestion(true)
		srv.SetValidationRulesFn(func() *rules.Rules { return introspection.WithoutSuggestions(rules.NewDefaultRules()) })
	}
	srv.Use(loaders.Extension{Store: d.Store, Options: loaders.Options{Wait: d.Config.LoaderWait, OnBatch: d.Metrics.ObserveBatch}})
	// The limits refuse an operation that asks too much before it runs and
	// give the rest a deadline; the rate limiter, last of the checks, then
	// charges the caller by the node count the limits computed.
	limits.Install(srv, d.Config.Limits, d.Logger)
	srv.Use(limits.Subscriptions{Max: d.Config.Limits.MaxSubscriptions})
	srv.Use(ratelimit.Extension{Limiter: newRateLimiter(d), Caller: rateLimitCaller, Nodes: limits.NodesOf})
	// Last: it registers an APQ query only once the operation has passed
	// every check above.
	srv.Use(persistedQueries(d))
	srv.SetErrorPresenter(presentError(d.Logger, d.Config.Limits.Timeout))
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		return shipgraph.Internal(fmt.Errorf("panic: %v\n%s", p, debug.Stack()))
	})
	return ratelimit.Headers(srv)
}

// websocketInit authenticates a WebSocket connection from its
// connection_init payload (browsers cannot set headers on a WebSocket):
// {"Authorization": "Bearer <token>"}, as GraphiQL sends its headers. A
// missing or invalid token closes the connection with 4403; a valid one
// ends the connection when it expires.
func websocketInit(a *auth.Authenticator, conns *limits.Connections) transport.WebsocketInitFunc {
	return func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		header := p.Authorization()
		if header == "" {
			header = p.GetString("authorization")
		}
		principal, err := a.VerifyHeader(header)
		if header == "" || err != nil {
			if header == "" {
				err = errors.New("connection_init must carry an Authorization token")
			}
			ctx = transport.WithWebsocketCloseCode(ctx, 4403)
			return transport.AppendCloseReason(ctx, "Forbidden"), nil, &wsprotocol.CloseError{Code: 4403, Reason: "Forbidden", Err: err}
		}
		release, err := conns.Acquire(principal.Subject)
		if err != nil {
			// 1008: policy violation; the protocol has no code for it.
			ctx = transport.WithWebsocketCloseCode(ctx, 1008)
			return transport.AppendCloseReason(ctx, "too many connections"), nil, &wsprotocol.CloseError{Code: 1008, Reason: "too many connections", Err: err}
		}
		ctx = context.WithValue(ctx, releaseKey{}, release)
		ctx, _ = auth.ExpiryContext(auth.WithPrincipal(ctx, principal))
		return limits.WithConnection(ctx), nil, nil
	}
}

type releaseKey struct{}

// releaseConnection gives a closed WebSocket connection's slot back.
func releaseConnection(ctx context.Context, _ int) {
	if release, ok := ctx.Value(releaseKey{}).(func()); ok {
		release()
	}
}

// newRateLimiter counts in Redis when the server has one, so that all
// instances spend from the same budgets, else in this process.
func newRateLimiter(d serverDeps) *ratelimit.Limiter {
	cfg := ratelimit.Config{Limit: d.Config.RateLimit, Window: d.Config.RateWindow, Logger: d.Logger}
	if d.Redis != nil {
		cfg.Counter = d.Redis.RateCounter()
	}
	return ratelimit.New(cfg)
}

// rateLimitCaller names whose budget an operation spends: the token's
// subject, else (an anonymous caller) the client's address.
func rateLimitCaller(ctx context.Context) string {
	if p, ok := auth.PrincipalFrom(ctx); ok {
		return "sub:" + p.Subject
	}
	return "ip:" + ratelimit.ClientIP(ctx)
}

// presentError maps errors to GraphQL errors: a shipgraph.Error shows its
// code, field and message; anything else is an internal error, logged with
// the request id and shown as a generic message, so no internal detail
// (SQL, stack, host names) ever reaches a client.
func presentError(log *slog.Logger, timeout time.Duration) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		// Present a copy: err may wrap this very *gqlerror.Error, and
		// overwriting its Message would erase the cause before it is logged.
		presented := *graphql.DefaultErrorPresenter(ctx, err)
		gqlErr := &presented
		if te := limits.TimeoutError(ctx, timeout); te != nil {
			te.Path, te.Locations = gqlErr.Path, gqlErr.Locations
			return te
		}
		var se *shipgraph.Error
		if !errors.As(err, &se) {
			var ge *gqlerror.Error
			if errors.As(err, &ge) && ge.Err == nil {
				// gqlgen's own errors: parsing, validation, coercion.
				return gqlErr
			}
			se = shipgraph.Internal(err)
		}
		gqlErr.Message = se.Message
		gqlErr.Extensions = map[string]any{"code": string(se.Code)}
		if se.Field != "" {
			gqlErr.Extensions["field"] = se.Field
		}
		if se.Code == shipgraph.CodeInternal {
			id := requestID(ctx)
			gqlErr.Extensions["requestId"] = id
			log.ErrorContext(ctx, "internal error", "request_id", id, "path", gqlErr.Path.String(), "error", se.Error())
		}
		return gqlErr
	}
}

// defaultQuery is GraphiQL's first tab: a tour of the API.
const defaultQuery = `# Welcome to Shipgraph. Press the run button (or Ctrl-Enter).
# Open the docs (book icon, top left) to explore every type.
#
# To watch a deployment live, start one in a new tab:
#   mutation { createDeployment(input: {buildId: "<a SUCCEEDED build's id>", environment: "demo"}) { deployment { id } } }
# then, in another tab:
#   subscription { deploymentProgress(deploymentId: "<its id>") { sequence stage stageStatus status progress message } }

query Overview {
  features(first: 5, orderBy: {field: UPDATED_AT, direction: DESC}) {
    totalCount
    nodes {
      id
      name
      status
      complexityPoints
      testCases(first: 3) {
        totalCount
        nodes { title status }
      }
      builds(first: 2, filter: {status: SUCCEEDED}) {
        nodes {
          id
          number
          branch
          status
          deployments(first: 2) {
            nodes { environment status progress stages { name status } }
          }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
`

func readyHandler(r readiness) http.Handler {
	// Once the migrations are applied they stay applied; only the
	// database connection is checked every time.
	var migrated bool
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), 2*time.Second)
		defer cancel()
		checks := map[string]string{"database": "ok", "migrations": "ok"}
		status := http.StatusOK
		if err := r.Ping(ctx); err != nil {
			checks["database"] = "unreachable"
			status = http.StatusServiceUnavailable
		} else if !migrated {
			n, err := r.Pending(ctx)
			switch {
			case err != nil:
				checks["migrations"] = "unknown"
				status = http.StatusServiceUnavailable
			case n > 0:
				checks["migrations"] = fmt.Sprintf("%d pending", n)
				status = http.StatusServiceUnavailable
			default:
				migrated = true
			}
		}
		writeJSON(w, status, map[string]any{"ready": status == http.StatusOK, "checks": checks})
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

type requestIDKey struct{}

// requestID returns the id of the request ctx belongs to.
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// validRequestID accepts ids from a proxy in front of us, but only short
// plain ones, so that nothing odd gets into the logs.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// withRequestID gives every request an id, echoed in X-Request-ID, that ties
// a client's report to the server's logs.
func withRequestID(next http.Handler, log *slog.Logger, m *metrics.Metrics) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !validRequestID.MatchString(id) {
			b := make([]byte, 8)
			rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-ID", id)
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		ctx := postgres.WithStatementCounter(context.WithValue(r.Context(), requestIDKey{}, id))
		// The record collects what the layers below learn (operation,
		// user, error codes) for this line; see observe.go.
		ctx, rec := requestlog.New(ctx, id)
		rec.Multiplexed = isWebSocket(r)
		next.ServeHTTP(sw, r.WithContext(ctx))
		duration := time.Since(start)
		level := slog.LevelInfo
		if probeRoutes[rec.Route()] && sw.status < 400 {
			// Load balancers and scrapers call these every few seconds: at
			// info their lines would drown the ones that matter. A failing
			// probe stays at info.
			level = slog.LevelDebug
		}
		log.LogAttrs(ctx, level, "request", append([]slog.Attr{
			slog.String("request_id", id),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", sw.status),
			slog.Duration("duration", duration),
			slog.Int64("sql_statements", postgres.StatementCount(ctx))}, rec.Attrs()...)...)
		m.ObserveHTTP(rec.Route(), r.Method, sw.status, duration)
	})
}

// probeRoutes are the routes health checks and metric scrapers call.
var probeRoutes = map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /metrics": true}

// logRejectedToken logs why a bearer token was refused (expired, bad
// signature…) with the request id, so an operator can answer "why 401?".
// The reason never includes the token.
func logRejectedToken(log *slog.Logger) func(*http.Request, error) {
	return func(r *http.Request, err error) {
		log.InfoContext(r.Context(), "token rejected", "request_id", requestID(r.Context()), "reason", err.Error())
		// The 401's body is an UNAUTHENTICATED error: the request line says so.
		requestlog.From(r.Context()).AddErrors(string(shipgraph.CodeUnauthenticated))
	}
}

// withRecover turns a panic outside GraphQL execution into a 500 and a log
// line instead of a dropped connection.
func withRecover(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.ErrorContext(r.Context(), "panic", "request_id", requestID(r.Context()), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				writeJSON(w, http.StatusInternalServerError, map[string]any{"errors": []map[string]any{{
					"message": "internal server error", "extensions": map[string]string{"code": "INTERNAL_SERVER_ERROR"},
				}}})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// statusWriter remembers the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer (flush,
// hijack for WebSockets).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush lets an event stream (SSE) push each event; gqlgen's SSE transport
// asserts http.Flusher rather than using a ResponseController.
func (w *statusWriter) Flush() { http.NewResponseController(w.ResponseWriter).Flush() }
