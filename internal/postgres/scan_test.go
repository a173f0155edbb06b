package postgres_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/shipgraph/shipgraph/internal/postgres"
)

// TestScannersMatchByName holds the hand-written row scans to pgx's by-name
// scan of the db tags: rows with every nullable column set and unset, read
// both ways, must be equal. The rows live in a transaction that is rolled
// back, so parallel tests never see them.
func TestScannersMatchByName(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tx, err := testDB.DB.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var fid int64
	err = tx.QueryRow(ctx, `
		WITH f AS (INSERT INTO features (name, description, complexity_points, status, version, created_at, updated_at)
		           VALUES ('Scan me', 'All columns', 8, 'READY', 3, '2024-01-02T03:04:05.123456Z', now()) RETURNING id),
		     t AS (INSERT INTO test_cases (feature_id, title, steps, expected_result, status, version)
		           SELECT id, 'Case', 'Step 1', 'Works', 'FAILED', 2 FROM f),
		     b1 AS (INSERT INTO builds (feature_id, number, commit_sha, branch, status, started_at, finished_at, version)
		           SELECT id, 1, 'abcdef1', 'main', 'SUCCEEDED', now() - interval '1 hour', now(), 3 FROM f RETURNING id, feature_id),
		     b2 AS (INSERT INTO builds (feature_id, number, commit_sha, branch)
		           SELECT id, 2, 'abcdef2', 'feature/x' FROM f),
		     d1 AS (INSERT INTO deployments (build_id, feature_id, environment, status, progress, stages, error, started_at, finished_at, version)
		           SELECT id, feature_id, 'prod', 'FAILED', 40, '[{"name":"PRE_CHECKS","status":"FAILED"}]', 'boom', now(), now(), 5 FROM b1 RETURNING id),
		     d2 AS (INSERT INTO deployments (build_id, feature_id, environment)
		           SELECT id, feature_id, 'dev' FROM b1 RETURNING id)
		INSERT INTO deployment_events (deployment_id, sequence, stage, stage_status, status, progress, message)
		SELECT id, 1, NULL, NULL, 'QUEUED', 0, 'queued' FROM d2
		UNION ALL SELECT id, 1, 'PRE_CHECKS', 'FAILED', 'IN_PROGRESS', 10, 'failed' FROM d1
		RETURNING (SELECT id FROM f)`).Scan(&fid)
	if err != nil {
		t.Fatal(err)
	}
	pairs, err := postgres.ScanBothWays(ctx, tx, fid)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pairs {
		if n := reflect.ValueOf(p.ByName).Len(); n == 0 {
			t.Errorf("%s: no rows read", p.Table)
		}
		if !reflect.DeepEqual(p.ByHand, p.ByName) {
			t.Errorf("%s: scanned by hand\n%s\nby name\n%s", p.Table, rowsText(p.ByHand), rowsText(p.ByName))
		}
	}
}

// rowsText shows a []*T with the values its pointers point to.
func rowsText(rows any) string {
	v := reflect.ValueOf(rows)
	s := ""
	for i := range v.Len() {
		s += fmt.Sprintf("%+v\n", v.Index(i).Elem().Interface())
	}
	return s
}
