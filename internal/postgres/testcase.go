package postgres

import (
	"context"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

var testCases = table{
	name:    "test_cases",
	columns: "id, feature_id, title, steps, expected_result, status, version, created_at, updated_at",
	sortBy: map[shipgraph.OrderField]sortKey{
		shipgraph.OrderCreatedAt: {"created_at", "timestamptz"},
	},
	omit: []omission{
		{"steps", "''", func(u shipgraph.Unread) bool { return u.TestCaseText }},
		{"expected_result", "''", func(u shipgraph.Unread) bool { return u.TestCaseText }},
	},
}

// CreateTestCase inserts a test case; a missing feature is reported on
// featureId by the foreign key.
func (s *Store) CreateTestCase(ctx context.Context, in shipgraph.TestCaseCreate) (*shipgraph.TestCase, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	return one[shipgraph.TestCase](ctx, s.db.Pool,
		"INSERT INTO test_cases (feature_id, title, steps, expected_result) VALUES ($1, $2, $3, $4) RETURNING "+testCases.columns,
		in.FeatureID, in.Title, in.Steps, in.ExpectedResult)
}

// UpdateTestCase changes the fields that are set.
func (s *Store) UpdateTestCase(ctx context.Context, in shipgraph.TestCaseUpdate) (*shipgraph.TestCase, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	t, err := one[shipgraph.TestCase](ctx, s.db.Pool, `
		UPDATE test_cases SET
			title = coalesce($2, title),
			steps = coalesce($3, steps),
			expected_result = coalesce($4, expected_result),
			status = coalesce($5, status),
			version = version + 1,
			updated_at = now()
		WHERE id = $1 AND ($6::integer IS NULL OR version = $6)
		RETURNING `+testCases.columns,
		in.ID, in.Title, in.Steps, in.ExpectedResult, in.Status, in.ExpectedVersion)
	if shipgraph.ErrorCode(err) == shipgraph.CodeNotFound {
		return nil, checkVersion(ctx, s.db.Pool, "test_cases", "test case", in.ID, in.ExpectedVersion)
	}
	return t, err
}

// DeleteTestCase deletes a test case.
func (s *Store) DeleteTestCase(ctx context.Context, id int64) error {
	tag, err := s.db.Pool.Exec(ctx, "DELETE FROM test_cases WHERE id = $1", id)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return shipgraph.Errorf(shipgraph.CodeNotFound, "test case not found")
	}
	return nil
}

// TestCasesByID returns test cases in ids order, nil for missing ones.
func (s *Store) TestCasesByID(ctx context.Context, ids []int64) ([]*shipgraph.TestCase, error) {
	return byID(ctx, s.db.Pool, testCases, ids, func(t *shipgraph.TestCase) int64 { return t.ID })
}

func splitTestCaseQuery(q shipgraph.TestCaseQuery) (group[shipgraph.TestCaseQuery], int64) {
	parent := q.FeatureID
	q.FeatureID = 0
	return group[shipgraph.TestCaseQuery]{shared: q, parentCol: "feature_id"}, parent
}

func testCaseFilter(q shipgraph.TestCaseQuery) func(a *sqlArgs) []string {
	return func(a *sqlArgs) []string {
		if q.Status != "" {
			return []string{"status = " + a.add(q.Status)}
		}
		return nil
	}
}

// ListTestCases returns one page per query with one statement per group of
// queries that share their arguments.
func (s *Store) ListTestCases(ctx context.Context, qs []shipgraph.TestCaseQuery) ([]shipgraph.Page[*shipgraph.TestCase], error) {
	return batch(qs, splitTestCaseQuery, func(g group[shipgraph.TestCaseQuery], parents []int64) ([]shipgraph.Page[*shipgraph.TestCase], error) {
		return list(ctx, s.db.Pool, listing{
			t: testCases, parentCol: g.parentCol, parents: parents,
			filter: testCaseFilter(g.shared), order: g.shared.Order(), page: g.shared.Page,
		}, func(t *shipgraph.TestCase) int64 { return t.FeatureID })
	})
}

// CountTestCases returns one count per query.
func (s *Store) CountTestCases(ctx context.Context, qs []shipgraph.TestCaseQuery) ([]int, error) {
	return batch(qs, splitTestCaseQuery, func(g group[shipgraph.TestCaseQuery], parents []int64) ([]int, error) {
		return count(ctx, s.db.Pool, counting{t: testCases, parentCol: g.parentCol, parents: parents, filter: testCaseFilter(g.shared)})
	})
}
