package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

var builds = table{
	name:    "builds",
	columns: "id, feature_id, number, commit_sha, branch, status, started_at, finished_at, version, created_at, updated_at",
	omit: []omission{
		{"started_at", "NULL::timestamptz", func(u shipgraph.Unread) bool { return u.BuildTimes }},
		{"finished_at", "NULL::timestamptz", func(u shipgraph.Unread) bool { return u.BuildTimes }},
	},
	sortBy: map[shipgraph.OrderField]sortKey{
		shipgraph.OrderCreatedAt: {"created_at", "timestamptz"},
		shipgraph.OrderUpdatedAt: {"updated_at", "timestamptz"},
		shipgraph.OrderNumber:    {"number", "integer"},
	},
}

// CreateBuild inserts a build with the feature's next number. Taking the
// number from the feature row under its lock serializes concurrent
// creations per feature (and only per feature), so numbers never repeat.
func (s *Store) CreateBuild(ctx context.Context, in shipgraph.BuildCreate) (*shipgraph.Build, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var b *shipgraph.Build
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var number int
		err := tx.QueryRow(ctx,
			"UPDATE features SET last_build_number = last_build_number + 1 WHERE id = $1 RETURNING last_build_number",
			in.FeatureID).Scan(&number)
		if err == pgx.ErrNoRows {
			return shipgraph.InvalidField("featureId", "feature does not exist")
		}
		if err != nil {
			return err
		}
		b, err = one[shipgraph.Build](ctx, tx,
			"INSERT INTO builds (feature_id, number, commit_sha, branch) VALUES ($1, $2, $3, $4) RETURNING "+builds.columns,
			in.FeatureID, number, in.CommitSHA, in.Branch)
		return err
	})
	return b, err
}

// UpdateBuildStatus moves a build along its legal transitions. Asking for
// the status the build already has changes nothing and succeeds, so that a
// client can retry safely.
func (s *Store) UpdateBuildStatus(ctx context.Context, in shipgraph.BuildStatusUpdate) (*shipgraph.Build, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var b *shipgraph.Build
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		b, err = one[shipgraph.Build](ctx, tx, "SELECT "+builds.columns+" FROM builds WHERE id = $1 FOR UPDATE", in.ID)
		if shipgraph.ErrorCode(err) == shipgraph.CodeNotFound {
			return shipgraph.Errorf(shipgraph.CodeNotFound, "build not found")
		}
		if err != nil {
			return err
		}
		if in.ExpectedVersion != nil && *in.ExpectedVersion != b.Version {
			return staleVersion("build", b.Version, *in.ExpectedVersion)
		}
		if b.Status == in.Status {
			return nil
		}
		if !b.Status.CanBecome(in.Status) {
			return &shipgraph.Error{Code: shipgraph.CodeConflict, Field: "status",
				Message: fmt.Sprintf("a %s build cannot become %s", b.Status, in.Status)}
		}
		b, err = one[shipgraph.Build](ctx, tx, `
			UPDATE builds SET
				status = $2,
				started_at = CASE WHEN $2 = 'RUNNING' THEN now() ELSE started_at END,
				finished_at = CASE WHEN $2 IN ('SUCCEEDED', 'FAILED', 'CANCELLED') THEN now() ELSE finished_at END,
				version = version + 1,
				updated_at = now()
			WHERE id = $1
			RETURNING `+builds.columns, in.ID, in.Status)
		return err
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// BuildsByID returns builds in ids order, nil for missing ones.
func (s *Store) BuildsByID(ctx context.Context, ids []int64) ([]*shipgraph.Build, error) {
	return byID(ctx, s.db.Pool, builds, ids, func(b *shipgraph.Build) int64 { return b.ID })
}

func splitBuildQuery(q shipgraph.BuildQuery) (group[shipgraph.BuildQuery], int64) {
	if q.FeatureID == 0 {
		return group[shipgraph.BuildQuery]{shared: q}, 0
	}
	parent := q.FeatureID
	q.FeatureID = 0
	return group[shipgraph.BuildQuery]{shared: q, parentCol: "feature_id"}, parent
}

func buildFilter(f shipgraph.BuildFilter) func(a *sqlArgs) []string {
	return func(a *sqlArgs) []string {
		var c []string
		if f.Status != "" {
			c = append(c, "status = "+a.add(f.Status))
		}
		if f.Branch != "" {
			c = append(c, "branch = "+a.add(f.Branch))
		}
		return c
	}
}

// ListBuilds returns one page per query with one statement per group of
// queries that share their arguments.
func (s *Store) ListBuilds(ctx context.Context, qs []shipgraph.BuildQuery) ([]shipgraph.Page[*shipgraph.Build], error) {
	return batch(qs, splitBuildQuery, func(g group[shipgraph.BuildQuery], parents []int64) ([]shipgraph.Page[*shipgraph.Build], error) {
		return list(ctx, s.db.Pool, listing{
			t: builds, parentCol: g.parentCol, parents: parents,
			filter: buildFilter(g.shared.Filter), order: g.shared.Order, page: g.shared.Page,
		}, func(b *shipgraph.Build) int64 { return b.FeatureID })
	})
}

// CountBuilds returns one count per query.
func (s *Store) CountBuilds(ctx context.Context, qs []shipgraph.BuildQuery) ([]int, error) {
	return batch(qs, splitBuildQuery, func(g group[shipgraph.BuildQuery], parents []int64) ([]int, error) {
		return count(ctx, s.db.Pool, counting{t: builds, parentCol: g.parentCol, parents: parents, filter: buildFilter(g.shared.Filter)})
	})
}
