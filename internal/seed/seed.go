// Package seed loads a realistic demo data set: features with their test
// cases, builds, deployments and deployment event logs, shaped like the
// history the API would have written (statuses that follow the legal
// transitions, timestamps in order, gapless event logs that agree with their
// deployment). It exists so that the UI, pagination, search and load tests
// have something believable to work on, and it is fast enough (COPY in one
// transaction) to load hundreds of thousands of rows in a few seconds.
package seed

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Options says how much to seed.
type Options struct {
	// Features is the number of features the database should hold
	// afterwards. Run only tops up to it, so the same Options can be
	// applied on every start without piling up data.
	Features int
	// Rand drives every random choice. Nil means a fixed seed mixed with
	// the number of features already present: the same database state
	// then always gets the same data, and a top-up does not repeat the
	// rows the previous run made.
	Rand *rand.Rand
	// Uniform gives every new feature the same shape instead of a varied
	// one: exactly 10 test cases and 5 builds, every build SUCCEEDED and
	// deployed twice (dev, then qa). It is the data set of the nested-read
	// benchmark (issue #3: 1,000 features × 10 test cases, 5 builds, 2
	// deployments per build), whose query then returns 1,300 objects
	// whichever 50 features it reads.
	Uniform bool
}

// Result says what was inserted, so a caller can log it.
type Result struct {
	// Features, TestCases, Builds, Deployments and Events count the rows
	// inserted by this run.
	Features, TestCases, Builds, Deployments, Events int
	// Skipped counts the wanted features that already existed (the
	// existing count, capped at Options.Features); none of them was
	// touched.
	Skipped int
}

// lockKey is the pg_advisory_xact_lock key that serializes seeds. Without
// it two seeds started at once would each count the same features and both
// top up, doubling the data. The value spells "shipseed" in ASCII, unlikely
// to collide with any other advisory lock.
const lockKey int64 = 0x7368697073656564

// defaultSeed seeds the generator when Options.Rand is nil.
const defaultSeed = 20240601

// Run makes sure at least opts.Features features exist: it counts the
// features present and inserts the missing ones, each with about 10 test
// cases, 5 builds and 2 deployments with their event logs. Running it twice
// therefore does not duplicate anything.
//
// Everything happens in one transaction, so a failure or a cancelled ctx
// leaves the database as it was. Rows are streamed with COPY; the ids that
// children refer to are allocated from the tables' identity sequences first
// (COPY, unlike INSERT, accepts explicit values for GENERATED ALWAYS
// identity columns), which keeps the sequences ahead of every seeded row so
// the API's own inserts never collide with them.
func Run(ctx context.Context, pool *pgxpool.Pool, opts Options) (Result, error) {
	if opts.Features < 0 {
		return Result{}, errors.New("seed: Features must not be negative")
	}
	var res Result
	// READ COMMITTED (not a snapshot isolation level) matters: the count
	// runs after the lock is granted and must see what a seed that held
	// the lock before us committed.
	err := pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		var err error
		res, err = run(ctx, tx, opts)
		return err
	})
	if err != nil {
		return Result{}, fmt.Errorf("seed: %w", err)
	}
	return res, nil
}

func run(ctx context.Context, tx pgx.Tx, opts Options) (Result, error) {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey); err != nil {
		return Result{}, err
	}
	var (
		existing int
		now      time.Time
		seqs     [3]string
	)
	// now() is the transaction's start: everything seeded lies before
	// any later write of the API, even if this host's clock is off.
	err := tx.QueryRow(ctx, `SELECT count(*), now(),
			pg_get_serial_sequence('features', 'id'),
			pg_get_serial_sequence('builds', 'id'),
			pg_get_serial_sequence('deployments', 'id')
		FROM features`).Scan(&existing, &now, &seqs[0], &seqs[1], &seqs[2])
	if err != nil {
		return Result{}, err
	}
	res := Result{Skipped: min(existing, opts.Features)}
	n := opts.Features - existing
	if n <= 0 {
		return res, nil
	}
	r := opts.Rand
	if r == nil {
		r = rand.New(rand.NewPCG(defaultSeed, uint64(existing)))
	}
	p := generate(r, n, now, opts.Uniform)
	ids, err := allocateIDs(ctx, tx, seqs[:], []int{len(p.features), len(p.builds), len(p.deployments)})
	if err != nil {
		return Result{}, err
	}
	if err := p.copy(ctx, tx, ids[0], ids[1], ids[2]); err != nil {
		return Result{}, err
	}
	res.Features = len(p.features)
	res.TestCases = len(p.testCases)
	res.Builds = len(p.builds)
	res.Deployments = len(p.deployments)
	res.Events = len(p.events)
	return res, nil
}

// allocateIDs takes counts[i] values from sequence seqs[i] in one round
// trip. The values need not be contiguous (the API may take some at the
// same time); they are sorted so that ids grow in plan order, which is
// creation order.
func allocateIDs(ctx context.Context, tx pgx.Tx, seqs []string, counts []int) ([][]int64, error) {
	// The sequence name goes in as a literal cast to regclass, which the
	// parser resolves once; computing it per row would cost a catalog
	// lookup for each of the tens of thousands of ids.
	parts := make([]string, len(seqs))
	args := make([]any, len(seqs))
	ids := make([][]int64, len(seqs))
	dest := make([]any, len(seqs))
	for i, s := range seqs {
		parts[i] = fmt.Sprintf("ARRAY(SELECT nextval(%s::regclass) FROM generate_series(1, $%d))", quoteLiteral(s), i+1)
		args[i] = counts[i]
		dest[i] = &ids[i]
	}
	if err := tx.QueryRow(ctx, "SELECT "+strings.Join(parts, ", "), args...).Scan(dest...); err != nil {
		return nil, fmt.Errorf("allocate ids: %w", err)
	}
	for i := range ids {
		if len(ids[i]) != counts[i] {
			return nil, fmt.Errorf("allocate ids: got %d, want %d", len(ids[i]), counts[i])
		}
		slices.Sort(ids[i])
	}
	return ids, nil
}

// quoteLiteral quotes s as an SQL string literal (standard_conforming_strings
// is on, as it has been by default since PostgreSQL 9.1).
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// source streams n rows to CopyFrom, filling one reused row slice per call
// (pgx encodes each row before asking for the next), so no [][]any of the
// whole table is ever built.
type source struct {
	n, i int
	row  []any
	fill func(i int, row []any)
}

func newSource(n, cols int, fill func(i int, row []any)) *source {
	return &source{n: n, row: make([]any, cols), fill: fill}
}

// Next implements pgx.CopyFromSource.
func (s *source) Next() bool {
	if s.i >= s.n {
		return false
	}
	s.i++
	return true
}

// Values implements pgx.CopyFromSource.
func (s *source) Values() ([]any, error) {
	s.fill(s.i-1, s.row)
	return s.row, nil
}

// Err implements pgx.CopyFromSource; filling a row cannot fail.
func (s *source) Err() error { return nil }

// nullTime maps the zero time to NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// nullString maps the empty string to NULL.
func nullString[S ~string](s S) any {
	if s == "" {
		return nil
	}
	return string(s)
}

// copy streams the plan into the tables, parents before children so that
// every foreign key finds its row. Test cases and events are referenced by
// nothing, so their ids come from the identity default.
func (p *plan) copy(ctx context.Context, tx pgx.Tx, fids, bids, dids []int64) error {
	tables := []struct {
		name string
		cols []string
		src  *source
	}{
		{"features", []string{"id", "name", "description", "complexity_points", "status", "last_build_number", "version", "created_at", "updated_at"},
			newSource(len(p.features), 9, func(i int, row []any) {
				f := &p.features[i]
				row[0], row[1], row[2], row[3], row[4] = fids[i], f.name, f.description, f.complexity, string(f.status)
				row[5], row[6], row[7], row[8] = f.lastBuild, f.version, f.created, f.updated
			})},
		{"test_cases", []string{"feature_id", "title", "steps", "expected_result", "status", "version", "created_at", "updated_at"},
			newSource(len(p.testCases), 8, func(i int, row []any) {
				t := &p.testCases[i]
				row[0], row[1], row[2], row[3] = fids[t.feature], t.title, t.steps, t.expected
				row[4], row[5], row[6], row[7] = string(t.status), t.version, t.created, t.updated
			})},
		{"builds", []string{"id", "feature_id", "number", "commit_sha", "branch", "status", "started_at", "finished_at", "version", "created_at", "updated_at"},
			newSource(len(p.builds), 11, func(i int, row []any) {
				b := &p.builds[i]
				row[0], row[1], row[2], row[3], row[4], row[5] = bids[i], fids[b.feature], b.number, b.sha, b.branch, string(b.status)
				row[6], row[7], row[8], row[9], row[10] = nullTime(b.started), nullTime(b.finished), b.version, b.created, b.updated
			})},
		{"deployments", []string{"id", "build_id", "feature_id", "environment", "status", "progress", "stages", "error", "started_at", "finished_at", "version", "created_at", "updated_at"},
			newSource(len(p.deployments), 13, func(i int, row []any) {
				d := &p.deployments[i]
				row[0], row[1], row[2], row[3], row[4], row[5] = dids[i], bids[d.build], fids[d.feature], d.environment, string(d.status), d.progress
				row[6], row[7], row[8], row[9] = d.stages, nullString(d.err), nullTime(d.started), nullTime(d.finished)
				row[10], row[11], row[12] = d.version, d.created, d.updated
			})},
		{"deployment_events", []string{"deployment_id", "sequence", "stage", "stage_status", "status", "progress", "message", "occurred_at"},
			newSource(len(p.events), 8, func(i int, row []any) {
				e := &p.events[i]
				row[0], row[1], row[2], row[3] = dids[e.deployment], e.sequence, nullString(e.stage), nullString(e.stageStatus)
				row[4], row[5], row[6], row[7] = string(e.status), e.progress, e.message, e.at
			})},
	}
	for _, t := range tables {
		if err := copyRows(ctx, tx, t.name, t.cols, t.src); err != nil {
			return err
		}
	}
	return nil
}

// copyRows streams src into table with COPY. COPY writes explicit values
// into GENERATED ALWAYS identity columns as if OVERRIDING SYSTEM VALUE were
// given ("in the COPY command, user-specified values are always used", says
// CREATE TABLE's documentation of identity columns), which is what lets the
// pre-allocated ids through without a detour through INSERT.
func copyRows(ctx context.Context, tx pgx.Tx, table string, cols []string, src *source) error {
	n, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", table, err)
	}
	if int(n) != src.n {
		return fmt.Errorf("copy %s: wrote %d rows, want %d", table, n, src.n)
	}
	return nil
}
