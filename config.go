package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/joho/godotenv"

	"github.com/shipgraph/shipgraph/internal/browser"
	"github.com/shipgraph/shipgraph/internal/limits"
	"github.com/shipgraph/shipgraph/internal/live"
	"github.com/shipgraph/shipgraph/internal/persisted"
	"github.com/shipgraph/shipgraph/internal/pipeline"
	"github.com/shipgraph/shipgraph/internal/ratelimit"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// config is everything the environment configures. Every setting has a
// default that works on a developer machine; see the README's table.
type config struct {
	DatabaseURL     string        // DATABASE_URL
	Addr            string        // SHIPGRAPH_ADDR
	LogLevel        slog.Level    // SHIPGRAPH_LOG_LEVEL: debug, info, warn, error
	LogFormat       string        // SHIPGRAPH_LOG_FORMAT: json or text
	DBMaxConns      int32         // SHIPGRAPH_DB_MAX_CONNS
	DBConnTimeout   time.Duration // SHIPGRAPH_DB_CONNECT_TIMEOUT
	AutoMigrate     bool          // SHIPGRAPH_AUTO_MIGRATE: serve applies pending migrations
	ShutdownTimeout time.Duration // SHIPGRAPH_SHUTDOWN_TIMEOUT
	LoaderWait      time.Duration // SHIPGRAPH_LOADER_WAIT: batch window of the dataloaders
	FastQueries     bool          // SHIPGRAPH_FAST_QUERIES: queries run on internal/queryexec
	MaxBodyBytes    int64         // SHIPGRAPH_MAX_BODY_BYTES
	PprofAddr       string        // SHIPGRAPH_PPROF_ADDR: profiler listener, off when empty
	MetricsAddr     string        // SHIPGRAPH_METRICS_ADDR: /metrics on a listener of its own; on the API's when empty

	// Browser and schema exposure (see internal/browser, internal/introspection).
	CORSOrigins      []string // SHIPGRAPH_CORS_ORIGINS: cross-origin allow-list, none by default
	Introspection    bool     // SHIPGRAPH_INTROSPECTION: __schema and __type queries answered
	FieldSuggestions bool     // SHIPGRAPH_FIELD_SUGGESTIONS: "Did you mean …?" in validation errors

	// Persisted queries (see internal/persisted): Automatic Persisted
	// Queries, kept in Redis when REDIS_URL is set, or trusted documents
	// only, when a manifest is given.
	TrustedDocuments string        // SHIPGRAPH_TRUSTED_DOCUMENTS: manifest path; only its operations run
	APQTTL           time.Duration // SHIPGRAPH_APQ_TTL: how long Redis keeps a registered query (0: no expiry)
	APQCacheSize     int           // SHIPGRAPH_APQ_CACHE_SIZE: registered queries kept in this process
	APQMaxQueryBytes int           // SHIPGRAPH_APQ_MAX_QUERY_BYTES: largest query that may be registered

	// Tokens (see internal/auth). The secret is checked where it is used
	// (serve, token), so migrate and seed run without one.
	JWTSecret   string // JWT_SECRET_KEY: HS256 key, at least 32 bytes
	JWTIssuer   string // JWT_ISSUER: required iss of tokens, when set
	JWTAudience string // JWT_AUDIENCE: required aud of tokens, when set

	// Operation limits and rate limiting (see internal/limits,
	// internal/ratelimit). Redis, when set, holds what instances share:
	// rate limit counts, the event bus, the entity cache and persisted
	// queries.
	Pipeline pipeline.Config // SHIPGRAPH_RUNNER, _STAGE_DURATION, _FAIL_STAGE, _EXEC_DIR, _STAGE_TIMEOUT, _MAX_DEPLOYMENTS, _RESCUE_AFTER
	// RunDeployments (SHIPGRAPH_RUN_DEPLOYMENTS) makes this instance a
	// worker that runs deployments; false serves the API only, and other
	// instances run what it enqueues.
	RunDeployments bool
	Limits         limits.Config // SHIPGRAPH_MAX_DEPTH, _MAX_NODES, _MAX_ALIASES, _MAX_ROOT_FIELDS, _MAX_TOKENS, _REQUEST_TIMEOUT, _MAX_SUBSCRIPTIONS, _MAX_CONNECTIONS
	RateLimit      int           // SHIPGRAPH_RATE_LIMIT: points per caller and window
	RateWindow     time.Duration // SHIPGRAPH_RATE_WINDOW
	RedisURL       string        // REDIS_URL: off when empty
	RedisPrefix    string        // SHIPGRAPH_REDIS_PREFIX: start of every Redis key
	CacheTTL       time.Duration // SHIPGRAPH_CACHE_TTL: life of an entity in the Redis cache; 0 turns the cache off

	// WebSocket connections (see routes.go's graphQLHandler).
	WSInitTimeout time.Duration // SHIPGRAPH_WS_INIT_TIMEOUT: a socket without connection_init by then is closed (4408)
	WSKeepAlive   time.Duration // SHIPGRAPH_WS_KEEPALIVE: ping (graphql-transport-ws) and "ka" (graphql-ws) interval

	// LiveRefill is how often a watched deployment reads its event log in
	// case the bus lost an event (SHIPGRAPH_LIVE_REFILL, jittered ±25%).
	LiveRefill time.Duration
	// sqlTracer, set by serve when tracing is on (the standard OTEL_*
	// variables, see tracing.go), makes a span per SQL statement.
	sqlTracer pgx.QueryTracer
}

const defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/shipgraph?sslmode=disable"

// envWithDotenv returns a getenv that falls back to the variables of a .env
// file in the working directory, if there is one. The real environment wins,
// so an operator can always override the file.
func envWithDotenv(getenv func(string) string) (func(string) string, error) {
	file := getenv("SHIPGRAPH_ENV_FILE")
	if file == "" {
		file = ".env"
	}
	vars, err := godotenv.Read(file)
	if errors.Is(err, fs.ErrNotExist) {
		return getenv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	return func(k string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return vars[k]
	}, nil
}

// loadConfig reads and checks the configuration.
func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		DatabaseURL: getenv("DATABASE_URL"),
		Addr:        getenv("SHIPGRAPH_ADDR"),
		LogFormat:   strings.ToLower(getenv("SHIPGRAPH_LOG_FORMAT")),
		PprofAddr:   getenv("SHIPGRAPH_PPROF_ADDR"),
		MetricsAddr: getenv("SHIPGRAPH_METRICS_ADDR"),
		JWTSecret:   getenv("JWT_SECRET_KEY"),
		JWTIssuer:   getenv("JWT_ISSUER"),
		JWTAudience: getenv("JWT_AUDIENCE"),
		RedisURL:    getenv("REDIS_URL"),
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = defaultDatabaseURL
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	switch c.LogFormat {
	case "":
		c.LogFormat = "json"
	case "json", "text":
	default:
		return c, fmt.Errorf("SHIPGRAPH_LOG_FORMAT must be json or text, not %q", c.LogFormat)
	}
	if v := getenv("SHIPGRAPH_LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			return c, fmt.Errorf("SHIPGRAPH_LOG_LEVEL: %w", err)
		}
	}
	var err error
	parse := func(name string, def string, set func(string) error) {
		if err != nil {
			return
		}
		v := getenv(name)
		if v == "" {
			v = def
		}
		if e := set(v); e != nil {
			err = fmt.Errorf("%s=%q: %w", name, v, e)
		}
	}
	duration := func(dst *time.Duration) func(string) error {
		return func(s string) (e error) { *dst, e = time.ParseDuration(s); return e }
	}
	parse("SHIPGRAPH_DB_MAX_CONNS", "30", func(s string) error {
		n, e := strconv.ParseInt(s, 10, 32)
		c.DBMaxConns = int32(n)
		return e
	})
	parse("SHIPGRAPH_DB_CONNECT_TIMEOUT", "5s", duration(&c.DBConnTimeout))
	parse("SHIPGRAPH_SHUTDOWN_TIMEOUT", "15s", duration(&c.ShutdownTimeout))
	parse("SHIPGRAPH_LOADER_WAIT", "500us", duration(&c.LoaderWait))
	parse("SHIPGRAPH_FAST_QUERIES", "true", func(s string) (e error) { c.FastQueries, e = strconv.ParseBool(s); return e })
	parse("SHIPGRAPH_AUTO_MIGRATE", "true", func(s string) (e error) { c.AutoMigrate, e = strconv.ParseBool(s); return e })
	parse("SHIPGRAPH_MAX_BODY_BYTES", "1048576", func(s string) (e error) { c.MaxBodyBytes, e = strconv.ParseInt(s, 10, 64); return e })
	parse("SHIPGRAPH_CORS_ORIGINS", "", func(s string) (e error) { c.CORSOrigins, e = browser.ParseOrigins(s); return e })
	parse("SHIPGRAPH_INTROSPECTION", "true", func(s string) (e error) { c.Introspection, e = strconv.ParseBool(s); return e })
	parse("SHIPGRAPH_FIELD_SUGGESTIONS", "true", func(s string) (e error) { c.FieldSuggestions, e = strconv.ParseBool(s); return e })
	c.TrustedDocuments = getenv("SHIPGRAPH_TRUSTED_DOCUMENTS")
	parse("SHIPGRAPH_APQ_TTL", "24h", func(s string) (e error) {
		if c.APQTTL, e = time.ParseDuration(s); e == nil && c.APQTTL < 0 {
			e = errors.New("must not be negative")
		}
		return e
	})
	// A limit of 0 or less would silently mean "the default" below; refuse it.
	positive := func(dst *int) func(string) error {
		return func(s string) error {
			n, e := strconv.Atoi(s)
			if e == nil && n < 1 {
				e = errors.New("must be at least 1")
			}
			*dst = n
			return e
		}
	}
	parse("SHIPGRAPH_APQ_CACHE_SIZE", strconv.Itoa(persisted.DefaultCacheSize), positive(&c.APQCacheSize))
	parse("SHIPGRAPH_APQ_MAX_QUERY_BYTES", strconv.Itoa(persisted.DefaultMaxQueryBytes), positive(&c.APQMaxQueryBytes))
	parse("SHIPGRAPH_MAX_DEPTH", strconv.Itoa(limits.DefaultMaxDepth), positive(&c.Limits.MaxDepth))
	parse("SHIPGRAPH_MAX_NODES", strconv.Itoa(limits.DefaultMaxNodes), positive(&c.Limits.MaxNodes))
	parse("SHIPGRAPH_MAX_ALIASES", strconv.Itoa(limits.DefaultMaxAliases), positive(&c.Limits.MaxAliases))
	parse("SHIPGRAPH_MAX_ROOT_FIELDS", strconv.Itoa(limits.DefaultMaxRootFields), positive(&c.Limits.MaxRootFields))
	c.Pipeline.Runner = getenv("SHIPGRAPH_RUNNER")
	c.Pipeline.FailStage = shipgraph.StageName(getenv("SHIPGRAPH_FAIL_STAGE"))
	c.Pipeline.ExecDir = getenv("SHIPGRAPH_EXEC_DIR")
	parse("SHIPGRAPH_STAGE_DURATION", pipeline.DefaultStageDuration.String(), duration(&c.Pipeline.StageDuration))
	parse("SHIPGRAPH_STAGE_TIMEOUT", pipeline.DefaultStageTimeout.String(), duration(&c.Pipeline.StageTimeout))
	parse("SHIPGRAPH_MAX_DEPLOYMENTS", strconv.Itoa(pipeline.DefaultMaxConcurrent), positive(&c.Pipeline.MaxConcurrent))
	parse("SHIPGRAPH_RESCUE_AFTER", "0s", duration(&c.Pipeline.RescueAfter))
	parse("SHIPGRAPH_RUN_DEPLOYMENTS", "true", func(s string) (e error) { c.RunDeployments, e = strconv.ParseBool(s); return e })
	parse("SHIPGRAPH_MAX_SUBSCRIPTIONS", strconv.Itoa(limits.DefaultMaxSubscriptions), positive(&c.Limits.MaxSubscriptions))
	parse("SHIPGRAPH_MAX_CONNECTIONS", strconv.Itoa(limits.DefaultMaxConnections), positive(&c.Limits.MaxConnections))
	parse("SHIPGRAPH_MAX_TOKENS", strconv.Itoa(limits.DefaultMaxTokens), positive(&c.Limits.MaxTokens))
	parse("SHIPGRAPH_REQUEST_TIMEOUT", limits.DefaultTimeout.String(), duration(&c.Limits.Timeout))
	parse("SHIPGRAPH_RATE_LIMIT", strconv.Itoa(ratelimit.DefaultLimit), positive(&c.RateLimit))
	parse("SHIPGRAPH_RATE_WINDOW", ratelimit.DefaultWindow.String(), duration(&c.RateWindow))
	parse("SHIPGRAPH_REDIS_PREFIX", "shipgraph:", func(s string) error { c.RedisPrefix = s; return nil })
	parse("SHIPGRAPH_CACHE_TTL", "1h", func(s string) (e error) {
		if c.CacheTTL, e = time.ParseDuration(s); e == nil && c.CacheTTL < 0 {
			e = errors.New("must not be negative")
		}
		return e
	})
	parse("SHIPGRAPH_WS_INIT_TIMEOUT", "10s", duration(&c.WSInitTimeout))
	parse("SHIPGRAPH_WS_KEEPALIVE", "25s", duration(&c.WSKeepAlive))
	parse("SHIPGRAPH_LIVE_REFILL", live.Refill.String(), duration(&c.LiveRefill))
	if err == nil && c.LiveRefill <= 0 {
		err = errors.New("SHIPGRAPH_LIVE_REFILL must be a positive duration")
	}
	if err == nil && (c.Limits.Timeout <= 0 || c.RateWindow <= 0) {
		err = errors.New("SHIPGRAPH_REQUEST_TIMEOUT and SHIPGRAPH_RATE_WINDOW must be positive durations")
	}
	if err == nil && (c.WSInitTimeout <= 0 || c.WSKeepAlive <= 0) {
		// 0 would mean "wait forever" and "never" to gqlgen.
		err = errors.New("SHIPGRAPH_WS_INIT_TIMEOUT and SHIPGRAPH_WS_KEEPALIVE must be positive durations")
	}
	return c, err
}

// redactURL hides the passwords of a connection string, for logs and
// output. pgx takes URLs, with the password in the user info or in a
// password (or sslpassword) parameter, and keyword/value strings
// ("host=… password=…"); both are masked.
func redactURL(s string) string {
	if !strings.Contains(s, "://") {
		return keywordPassword.ReplaceAllString(s, "${1}xxxxx")
	}
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	q := u.Query()
	masked := false
	for k := range q {
		if strings.Contains(strings.ToLower(k), "password") {
			q.Set(k, "xxxxx")
			masked = true
		}
	}
	if masked {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// keywordPassword matches the value of password and sslpassword in a
// keyword/value connection string, quoted or not.
var keywordPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)`)
