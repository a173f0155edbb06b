// Package postgres is the PostgreSQL adapter: it implements shipgraph.Store
// over a pgx connection pool and applies the embedded migrations.
package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/multitracer"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/shipgraph/shipgraph/migrations"
)

// Config configures the pool.
type Config struct {
	URL string
	// MaxConns caps the pool; 0 keeps pgx's default (max(4, cores)). A
	// pool_max_conns parameter in the URL wins over it.
	// A pool_max_conns parameter in the URL wins over it.
	MaxConns int32
	// ConnectTimeout bounds each connection attempt. pgxpool's own default,
	// when the URL sets none, is two minutes: far too long for readiness
	// checks and requests, so Open always sets one.
	ConnectTimeout time.Duration
	// Tracer, when set, also sees every statement (NewSpanTracer); the
	// statement counter behind StatementCount always does.
	Tracer pgx.QueryTracer
}

// DB is a pool of connections to Shipgraph's database.
type DB struct {
	Pool *pgxpool.Pool
}

// Open connects to the database and checks that it answers.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		// The parse error can echo the URL, password included.
		return nil, fmt.Errorf("postgres: DATABASE_URL is not a valid connection string")
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	pc.ConnConfig.ConnectTimeout = cfg.ConnectTimeout
	pc.ConnConfig.Tracer = countingTracer{}
	if cfg.Tracer != nil {
		// pgx takes one tracer: compose.
		pc.ConnConfig.Tracer = multitracer.New(countingTracer{}, cfg.Tracer)
	}
	if cfg.MaxConns > 0 && !strings.Contains(cfg.URL, "pool_max_conns") {
		pc.MaxConns = cfg.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: cannot reach database at %s: %w", pc.ConnConfig.Host, err)
	}
	return &DB{Pool: pool}, nil
}

// Close closes every connection.
func (db *DB) Close() { db.Pool.Close() }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.Pool.Ping(ctx) }

// migrator returns a goose provider over the embedded migrations. The
// *sql.DB it uses borrows connections from the pool, so close it after use.
func (db *DB) migrator() (*goose.Provider, *sql.DB, error) {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	sqlDB := stdlib.OpenDBFromPool(db.Pool)
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations.FS, goose.WithSessionLocker(locker))
	if err != nil {
		sqlDB.Close()
		return nil, nil, fmt.Errorf("postgres: migrations: %w", err)
	}
	return p, sqlDB, nil
}

// MigrationStatus is the state of one migration.
type MigrationStatus struct {
	Version   int64
	Name      string
	Applied   bool
	AppliedAt time.Time
}

// MigrateUp applies every pending migration and returns the versions applied.
// A PostgreSQL advisory lock serializes instances that start at once.
func (db *DB) MigrateUp(ctx context.Context) ([]int64, error) {
	return db.migrate(ctx, func(p *goose.Provider) ([]*goose.MigrationResult, error) { return p.Up(ctx) })
}

// MigrateDown rolls back the latest migration.
func (db *DB) MigrateDown(ctx context.Context) ([]int64, error) {
	return db.migrate(ctx, func(p *goose.Provider) ([]*goose.MigrationResult, error) {
		r, err := p.Down(ctx)
		if r == nil {
			return nil, err
		}
		return []*goose.MigrationResult{r}, err
	})
}

func (db *DB) migrate(ctx context.Context, run func(*goose.Provider) ([]*goose.MigrationResult, error)) ([]int64, error) {
	p, sqlDB, err := db.migrator()
	if err != nil {
		return nil, err
	}
	defer sqlDB.Close()
	results, err := run(p)
	var versions []int64
	for _, r := range results {
		versions = append(versions, r.Source.Version)
	}
	if err != nil {
		return versions, fmt.Errorf("postgres: migrate: %w", err)
	}
	return versions, nil
}

// MigrationStatus lists every known migration and whether it is applied.
func (db *DB) MigrationStatus(ctx context.Context) ([]MigrationStatus, error) {
	p, sqlDB, err := db.migrator()
	if err != nil {
		return nil, err
	}
	defer sqlDB.Close()
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("postgres: migration status: %w", err)
	}
	out := make([]MigrationStatus, len(st))
	for i, s := range st {
		out[i] = MigrationStatus{
			Version:   s.Source.Version,
			Name:      s.Source.Path,
			Applied:   s.State == goose.StateApplied,
			AppliedAt: s.AppliedAt,
		}
	}
	return out, nil
}

// Pending reports how many migrations are not applied; /readyz uses it.
func (db *DB) Pending(ctx context.Context) (int, error) {
	st, err := db.MigrationStatus(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range st {
		if !s.Applied {
			n++
		}
	}
	return n, nil
}
