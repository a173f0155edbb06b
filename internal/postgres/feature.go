package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

var features = table{
	name:    "features",
	columns: "id, name, description, complexity_points, status, version, created_at, updated_at",
	sortBy: map[shipgraph.OrderField]sortKey{
		shipgraph.OrderCreatedAt:        {"created_at", "timestamptz"},
		shipgraph.OrderUpdatedAt:        {"updated_at", "timestamptz"},
		shipgraph.OrderName:             {"name", "text"},
		shipgraph.OrderComplexityPoints: {"complexity_points", "integer"},
	},
	omit: []omission{
		{"description", "''", func(u shipgraph.Unread) bool { return u.FeatureDescription }},
	},
}

// CreateFeature inserts a feature.
func (s *Store) CreateFeature(ctx context.Context, in shipgraph.FeatureCreate) (*shipgraph.Feature, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	return one[shipgraph.Feature](ctx, s.db.Pool,
		"INSERT INTO features (name, description, complexity_points, status) VALUES ($1, $2, $3, $4) RETURNING "+features.columns,
		in.Name, in.Description, in.ComplexityPoints, in.Status)
}

// UpdateFeature changes the fields that are set. The version check and the
// write are one statement, so no concurrent change slips in between.
func (s *Store) UpdateFeature(ctx context.Context, in shipgraph.FeatureUpdate) (*shipgraph.Feature, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	f, err := one[shipgraph.Feature](ctx, s.db.Pool, `
		UPDATE features SET
			name = coalesce($2, name),
			description = coalesce($3, description),
			complexity_points = coalesce($4, complexity_points),
			status = coalesce($5, status),
			version = version + 1,
			updated_at = now()
		WHERE id = $1 AND ($6::integer IS NULL OR version = $6)
		RETURNING `+features.columns,
		in.ID, in.Name, in.Description, in.ComplexityPoints, in.Status, in.ExpectedVersion)
	if shipgraph.ErrorCode(err) == shipgraph.CodeNotFound {
		return nil, checkVersion(ctx, s.db.Pool, "features", "feature", in.ID, in.ExpectedVersion)
	}
	return f, err
}

// DeleteFeature deletes a feature and, by cascade, everything under it.
func (s *Store) DeleteFeature(ctx context.Context, id int64) error {
	_, err := s.DeleteFeatureCascade(ctx, id)
	return err
}

// DeleteFeatureCascade deletes a feature like DeleteFeature and returns
// the ids of the rows the cascade deleted with it. Locking the feature row
// first closes the race with a deployment being created meanwhile:
// inserting one takes a key-share lock on the feature; the same lock keeps
// the list of children complete, since no child can be added while it is
// held.
func (s *Store) DeleteFeatureCascade(ctx context.Context, id int64) (shipgraph.FeatureCascade, error) {
	var c shipgraph.FeatureCascade
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var active bool
		err := tx.QueryRow(ctx, `
			SELECT EXISTS (SELECT 1 FROM deployments WHERE feature_id = f.id AND status IN ('QUEUED', 'IN_PROGRESS'))
			FROM features f WHERE f.id = $1 FOR UPDATE OF f`, id).Scan(&active)
		if err == pgx.ErrNoRows {
			return shipgraph.Errorf(shipgraph.CodeNotFound, "feature not found")
		}
		if err != nil {
			return err
		}
		if active {
			return shipgraph.Errorf(shipgraph.CodeConflict, "feature has a deployment in progress; cancel it or wait for it to finish")
		}
		err = tx.QueryRow(ctx, `
			SELECT
				ARRAY(SELECT id FROM test_cases WHERE feature_id = $1),
				ARRAY(SELECT id FROM builds WHERE feature_id = $1),
				ARRAY(SELECT id FROM deployments WHERE feature_id = $1),
				ARRAY(SELECT e.id FROM deployment_events e JOIN deployments d ON d.id = e.deployment_id WHERE d.feature_id = $1)`,
			id).Scan(&c.TestCaseIDs, &c.BuildIDs, &c.DeploymentIDs, &c.EventIDs)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "DELETE FROM features WHERE id = $1", id)
		return err
	})
	if err != nil {
		return shipgraph.FeatureCascade{}, err
	}
	return c, nil
}

// FeaturesByID returns features in ids order, nil for missing ones.
func (s *Store) FeaturesByID(ctx context.Context, ids []int64) ([]*shipgraph.Feature, error) {
	return byID(ctx, s.db.Pool, features, ids, func(f *shipgraph.Feature) int64 { return f.ID })
}

// ListFeatures returns one page of features.
func (s *Store) ListFeatures(ctx context.Context, q shipgraph.FeatureQuery) (shipgraph.Page[*shipgraph.Feature], error) {
	pages, err := list[shipgraph.Feature](ctx, s.db.Pool, listing{
		t: features, filter: featureFilter(q.Filter), order: q.Order, page: q.Page,
	}, nil)
	if err != nil {
		return shipgraph.Page[*shipgraph.Feature]{}, err
	}
	return pages[0], nil
}

// CountFeatures counts the features that match f.
func (s *Store) CountFeatures(ctx context.Context, f shipgraph.FeatureFilter) (int, error) {
	n, err := count(ctx, s.db.Pool, counting{t: features, filter: featureFilter(f)})
	if err != nil {
		return 0, err
	}
	return n[0], nil
}

// likeEscaper makes user text literal inside a LIKE pattern.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func featureFilter(f shipgraph.FeatureFilter) func(a *sqlArgs) []string {
	return func(a *sqlArgs) []string {
		var c []string
		if f.Status != "" {
			c = append(c, "status = "+a.add(f.Status))
		}
		if f.MinComplexity != 0 {
			c = append(c, "complexity_points >= "+a.add(f.MinComplexity))
		}
		if f.MaxComplexity != 0 {
			c = append(c, "complexity_points <= "+a.add(f.MaxComplexity))
		}
		if f.Search != "" {
			// Each side has its own trigram index.
			p := a.add("%" + likeEscaper.Replace(f.Search) + "%")
			c = append(c, "(name ILIKE "+p+" OR description ILIKE "+p+")")
		}
		return c
	}
}
