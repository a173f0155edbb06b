// Package pgtest gives each test package a fresh, migrated PostgreSQL
// database of its own, created at the start of the package's tests and
// dropped at the end, so no test depends on what another run left behind.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shipgraph/shipgraph/internal/postgres"
)

// ServerURL is the PostgreSQL server tests run against: TEST_DATABASE_URL,
// else DATABASE_URL, else the local server. Only its host and credentials
// are used; each package gets its own database on it.
func ServerURL() string {
	for _, k := range []string{"TEST_DATABASE_URL", "DATABASE_URL"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// withDatabase returns base with its database name replaced.
func withDatabase(base, name string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("pgtest: invalid server URL")
	}
	u.Path = "/" + name
	return u.String(), nil
}

// Database is a throwaway database.
type Database struct {
	Name string
	URL  string
	DB   *postgres.DB
}

// Main runs a test package against a fresh migrated database, exposed to the
// tests through the returned pointer once m.Run starts. Call it from
// TestMain:
//
//	var testDB *pgtest.Database
//	func TestMain(m *testing.M) { pgtest.Main(m, &testDB) }
//
// extra migrations run after Shipgraph's (a package that needs River's
// tables passes pipeline.Migrate).
func Main(m *testing.M, out **Database, extra ...Migration) {
	ctx := context.Background()
	d, err := Create(ctx, "t", extra...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*out = d
	code := m.Run()
	if err := d.Drop(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// Migration brings a database further than Shipgraph's own migrations.
type Migration func(context.Context, *pgxpool.Pool) error

// Create makes a new database named after prefix and a random suffix, and
// migrates it: Shipgraph's migrations, then extra.
func Create(ctx context.Context, prefix string, extra ...Migration) (*Database, error) {
	suffix := make([]byte, 6)
	rand.Read(suffix)
	name := "shipgraph_test_" + strings.ToLower(prefix) + "_" + hex.EncodeToString(suffix)
	admin, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		return nil, fmt.Errorf("pgtest: cannot reach PostgreSQL (run scripts/ensure-postgres.sh): %w", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("pgtest: create database: %w", err)
	}
	dbURL, err := withDatabase(ServerURL(), name)
	if err != nil {
		return nil, err
	}
	d := &Database{Name: name, URL: dbURL}
	d.DB, err = postgres.Open(ctx, postgres.Config{URL: dbURL, ConnectTimeout: 10 * time.Second})
	if err == nil {
		_, err = d.DB.MigrateUp(ctx)
	}
	for _, migrate := range extra {
		if err == nil {
			err = migrate(ctx, d.DB.Pool)
		}
	}
	if err != nil {
		d.Drop(ctx)
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	return d, nil
}

// Drop closes the pool and drops the database, disconnecting any client
// still attached (a server process a test started, say).
func (d *Database) Drop(ctx context.Context) error {
	if d.DB != nil {
		d.DB.Close()
	}
	admin, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		return fmt.Errorf("pgtest: drop %s: %w", d.Name, err)
	}
	defer admin.Close(ctx)
	_, err = admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{d.Name}.Sanitize()+" WITH (FORCE)")
	if err != nil {
		return fmt.Errorf("pgtest: drop %s: %w", d.Name, err)
	}
	return nil
}
