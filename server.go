// Command shipgraph is the Shipgraph GraphQL API server: the system of
// record and live status feed of a delivery pipeline.
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"syscall"
	"time"

	"github.com/shipgraph/shipgraph/internal/live"
	"github.com/shipgraph/shipgraph/internal/metrics"
	"github.com/shipgraph/shipgraph/internal/pipeline"
	"github.com/shipgraph/shipgraph/internal/postgres"
	"github.com/shipgraph/shipgraph/internal/redis"
	"github.com/shipgraph/shipgraph/internal/seed"
	"github.com/shipgraph/shipgraph/internal/tracing"
)

// version is set at build time with -ldflags "-X main.version=…"; without
// it the VCS revision Go embeds is used.
var version = "dev"

//go:embed schema/*.graphqls
var schemaFS embed.FS

// schemaSDL is the schema as written, descriptions included, served at
// /schema.graphql for client code generators.
var schemaSDL = func() []byte {
	names, _ := fs.Glob(schemaFS, "schema/*.graphqls")
	sort.Strings(names)
	var sdl []byte
	for _, n := range names {
		b, _ := schemaFS.ReadFile(n)
		sdl = append(append(sdl, b...), '\n')
	}
	return sdl
}()

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "shipgraph:", err)
		}
		stop()
		os.Exit(exitCode(err))
	}
}

// exitCode follows the convention of flag: 2 for a usage error.
func exitCode(err error) int {
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

var errUsage = errors.New("usage")

const usage = `shipgraph: the Shipgraph GraphQL API server.

Usage:
  shipgraph serve [flags]           serve the API (GraphiQL at /, GraphQL at /graphql)
  shipgraph migrate up|down|status  apply, roll back (one step) or list migrations
  shipgraph seed [--features N]     load demo data, topping up to N features
  shipgraph token --sub NAME --roles viewer,editor [--ttl 1h]
                                    mint an access token (signed with JWT_SECRET_KEY)
  shipgraph version                 print the version

Configuration comes from the environment and an optional .env file:
  DATABASE_URL, JWT_SECRET_KEY, SHIPGRAPH_ADDR, SHIPGRAPH_LOG_LEVEL, …
(see the README for every setting). Run "shipgraph COMMAND --help" for flags.
`

// run is the whole program; main only adapts it to the process. Tests call
// it directly, with their own arguments, environment and output.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	getenv, err := envWithDotenv(getenv)
	if err != nil {
		return err
	}
	cmd, rest := args[1], args[2:]
	var sub func(context.Context, []string, func(string) string, io.Writer, io.Writer) error
	switch cmd {
	case "serve":
		sub = serve
	case "migrate":
		sub = migrate
	case "seed":
		sub = seedCmd
	case "token":
		sub = tokenCmd
	case "version", "--version":
		fmt.Fprintln(stdout, "shipgraph", buildVersion())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", cmd, usage)
		return errUsage
	}
	if err := sub(ctx, rest, getenv, stdout, stderr); !errors.Is(err, flag.ErrHelp) {
		return err
	}
	return nil // asking for help is not a failure
}

func buildVersion() string {
	if version != "dev" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return version
}

// newFlags returns a flag set whose --help prints to stdout and whose errors
// go to stderr.
func newFlags(name, synopsis string, stdout, stderr io.Writer) *flag.FlagSet {
	fl := flag.NewFlagSet(name, flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() {
		fl.SetOutput(stdout)
		fmt.Fprintf(stdout, "Usage: shipgraph %s\n\nFlags:\n", synopsis)
		fl.PrintDefaults()
		fl.SetOutput(stderr)
	}
	return fl
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		// "1.5ms", not 1500000: log lines are read by people first.
		if a.Value.Kind() == slog.KindDuration {
			a.Value = slog.StringValue(a.Value.Duration().String())
		}
		return a
	}}
	// Every line logged within a traced context carries its trace_id and
	// span_id (a no-op when tracing is off).
	if cfg.LogFormat == "text" {
		return slog.New(tracing.LogHandler(slog.NewTextHandler(w, opts)))
	}
	return slog.New(tracing.LogHandler(slog.NewJSONHandler(w, opts)))
}

func openDB(ctx context.Context, cfg config) (*postgres.DB, error) {
	return postgres.Open(ctx, postgres.Config{URL: cfg.DatabaseURL, MaxConns: cfg.DBMaxConns, ConnectTimeout: cfg.DBConnTimeout, Tracer: cfg.sqlTracer})
}

// openRedis returns a client for REDIS_URL, or nil when it is unset. An
// unreachable Redis is logged, not fatal: until it answers, rate limits
// are counted and persisted queries kept in this process, the entity
// cache is skipped and subscribers read events from PostgreSQL, so a
// Redis outage never takes the API down with it.
func openRedis(ctx context.Context, cfg config, log *slog.Logger) (*redis.Client, error) {
	if cfg.RedisURL == "" {
		return nil, nil
	}
	rdb, err := redis.Open(redis.Config{URL: cfg.RedisURL, Prefix: cfg.RedisPrefix})
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := rdb.Ping(pingCtx); err != nil {
		log.Warn("redis unreachable; this process falls back on itself and PostgreSQL until it answers", "redis", redactURL(cfg.RedisURL), "error", err)
	}
	return rdb, nil
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	fl := newFlags("serve", "serve [flags]", stdout, stderr)
	fl.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address (SHIPGRAPH_ADDR); port 0 picks a free port")
	noMigrate := fl.Bool("no-migrate", !cfg.AutoMigrate, "do not apply pending migrations at start (SHIPGRAPH_AUTO_MIGRATE=false)")
	fl.StringVar(&cfg.PprofAddr, "pprof", cfg.PprofAddr, "serve net/http/pprof on this address, e.g. 127.0.0.1:6060 (SHIPGRAPH_PPROF_ADDR); off when empty")
	dev := fl.Bool("dev", false, "development mode: loopback only, a random secret when JWT_SECRET_KEY is unset, an admin token printed and pre-filled in GraphiQL, anonymous introspection")
	if err := fl.Parse(args); err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	authn, graphiqlHeaders, err := serveAuth(cfg, *dev, stdout, log)
	if err != nil {
		return err
	}
	trusted, err := loadTrustedDocuments(cfg, log)
	if err != nil {
		return err
	}
	tr, err := startTracing(ctx, &cfg, log)
	if err != nil {
		return err
	}
	defer stopTracing(tr, cfg, log) // last: after the server and the pipeline have stopped
	if getenv("GOGC") == "" {
		// A large nested read allocates megabytes of garbage that dies with
		// the request; collecting less often buys throughput for memory.
		debug.SetGCPercent(400)
	}

	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if !*noMigrate {
		applied, err := db.MigrateUp(ctx)
		if err != nil {
			return err
		}
		if len(applied) > 0 {
			log.Info("migrations applied", "versions", applied)
		}
		if err := pipeline.Migrate(ctx, db.Pool); err != nil {
			return err
		}
	}
	rdb, err := openRedis(ctx, cfg, log)
	if err != nil {
		return err
	}
	if rdb != nil {
		defer rdb.Close() // after the HTTP server has shut down
		if tr.Enabled() {
			if err := rdb.InstrumentTracing(tr.ChildTracerProvider()); err != nil {
				return err
			}
		}
	}

	// Deployment changes are committed, then published to subscribers:
	// through Redis to every instance when there is one, else in process.
	var bus live.Bus = &live.Memory{}
	if rdb != nil {
		redisBus := rdb.NewBus(log)
		defer redisBus.Close() // after the HTTP server has shut down
		bus = redisBus
	}
	m := metrics.New(buildVersion())
	m.CollectDBPool(dbPoolStats(db.Pool))
	if rdb != nil {
		m.CollectRedisPool(redisPoolStats(rdb))
	}
	cfg.Pipeline.Observer = m
	pg := postgres.NewStore(db)
	// The cache sits under the publisher: a change is invalidated before
	// subscribers hear of it and read it back.
	cached, closeCache := withCache(pg, rdb, cfg, log, m)
	defer closeCache() // after the HTTP server and the pipeline have stopped
	store := &live.Publisher{Store: cached, Bus: bus, Log: log}
	// The pipeline writes through the publisher, so its events go out
	// live; the store enqueues and cancels through the pipeline, in the
	// transactions that create and cancel deployments.
	pipe, err := pipeline.New(db.Pool, store, cfg.Pipeline, log)
	if err != nil {
		return err
	}
	pg.SetJobHook(postgres.JobHook{Enqueue: pipe.EnqueueTx, Cancel: pipe.CancelTx})
	if cfg.RunDeployments {
		if err := pipe.Start(ctx); err != nil {
			return err
		}
		defer func() {
			// Running stages get the shutdown timeout to finish, then are
			// handed back for another instance to resume.
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
			defer cancel()
			if err := pipe.Stop(stopCtx); err != nil {
				log.Warn("pipeline stop", "error", err)
			}
		}()
	}
	handler := NewServer(serverDeps{
		Logger:  log,
		Store:   store,
		Ready:   db,
		Config:  cfg,
		Version: buildVersion(),
		Bus:     bus,

		Auth:            authn,
		Dev:             *dev,
		GraphiQLHeaders: graphiqlHeaders,
		Redis:           rdb,
		Metrics:         m,

		TrustedDocuments: trusted,
		Tracing:          tr,
	})
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	if cfg.PprofAddr != "" {
		stopPprof, err := servePprof(cfg.PprofAddr, log)
		if err != nil {
			ln.Close()
			return err
		}
		defer stopPprof()
	}
	if cfg.MetricsAddr != "" {
		stopMetrics, err := serveMetrics(cfg.MetricsAddr, m, log)
		if err != nil {
			ln.Close()
			return err
		}
		defer stopMetrics()
	}

	// Tests listen on port 0 and read the real address from this line;
	// everything logged at start comes before it.
	log.Info("serving", "addr", "http://"+ln.Addr().String(), "version", buildVersion(), "database", redactURL(cfg.DatabaseURL))

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Stop accepting, let requests in flight finish, then close.
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// servePprof serves the profiler on its own listener, apart from the API,
// so that it can stay on loopback while the API is public.
func servePprof(addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Warn("pprof enabled", "addr", "http://"+ln.Addr().String()+"/debug/pprof/")
	go srv.Serve(ln)
	return func() { srv.Close() }, nil
}

// serveMetrics serves /metrics on its own listener, so that an operator
// can keep it on loopback or a private network while the API is public.
func serveMetrics(addr string, m *metrics.Metrics, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Info("metrics listener", "addr", "http://"+ln.Addr().String()+"/metrics")
	go srv.Serve(ln)
	return func() { srv.Close() }, nil
}

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	fl := newFlags("migrate", "migrate up|down|status", stdout, stderr)
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() != 1 {
		fl.Usage()
		return errUsage
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	switch fl.Arg(0) {
	case "up", "down":
		apply := db.MigrateUp
		if fl.Arg(0) == "down" {
			apply = db.MigrateDown
		}
		versions, err := apply(ctx)
		for _, v := range versions {
			fmt.Fprintf(stdout, "migrated %s: %d\n", fl.Arg(0), v)
		}
		if err == nil && fl.Arg(0) == "up" {
			// River's job tables; "down" leaves them, they hold no data of ours.
			err = pipeline.Migrate(ctx, db.Pool)
		}
		if err == nil && len(versions) == 0 {
			fmt.Fprintln(stdout, "nothing to migrate")
		}
		return err
	case "status":
		st, err := db.MigrationStatus(ctx)
		if err != nil {
			return err
		}
		for _, s := range st {
			state := "pending"
			if s.Applied {
				state = "applied " + s.AppliedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(stdout, "%05d  %-40s %s\n", s.Version, s.Name, state)
		}
		return nil
	}
	fl.Usage()
	return errUsage
}

func seedCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	fl := newFlags("seed", "seed [--features N]", stdout, stderr)
	n := fl.Int("features", 200, "make sure at least this many features exist (tops up, never duplicates)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *n < 0 {
		return fmt.Errorf("--features must not be negative")
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.MigrateUp(ctx); err != nil {
		return err
	}
	start := time.Now()
	res, err := seed.Run(ctx, db.Pool, seed.Options{Features: *n})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seeded %d features, %d test cases, %d builds, %d deployments, %d events in %s (%d features already there)\n",
		res.Features, res.TestCases, res.Builds, res.Deployments, res.Events, time.Since(start).Round(time.Millisecond), res.Skipped)
	return nil
}
