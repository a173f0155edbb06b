package postgres

import (
	"context"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

var deployments = table{
	name: "deployments",
	columns: "id, build_id, feature_id, environment, status, progress, stages, error, " +
		"started_at, finished_at, version, created_at, updated_at",
	sortBy: map[shipgraph.OrderField]sortKey{
		shipgraph.OrderCreatedAt: {"created_at", "timestamptz"},
		shipgraph.OrderUpdatedAt: {"updated_at", "timestamptz"},
	},
	omit: []omission{
		// stages is about 80% of a deployment row's bytes.
		{"stages", "NULL::jsonb", func(u shipgraph.Unread) bool { return u.DeploymentStages }},
		{"error", "NULL::text", func(u shipgraph.Unread) bool { return u.DeploymentError }},
		{"started_at", "NULL::timestamptz", func(u shipgraph.Unread) bool { return u.DeploymentTimes }},
		{"finished_at", "NULL::timestamptz", func(u shipgraph.Unread) bool { return u.DeploymentTimes }},
	},
}

var events = table{
	name:    "deployment_events",
	columns: "id, deployment_id, sequence, stage, stage_status, status, progress, message, occurred_at",
	sortBy: map[shipgraph.OrderField]sortKey{
		shipgraph.OrderSequence: {"sequence", "integer"},
	},
}

// DeploymentsByID returns deployments in ids order, nil for missing ones.
func (s *Store) DeploymentsByID(ctx context.Context, ids []int64) ([]*shipgraph.Deployment, error) {
	return byID(ctx, s.db.Pool, deployments, ids, func(d *shipgraph.Deployment) int64 { return d.ID })
}

// splitDeploymentQuery names the parent of a deployment listing: a build, a
// feature, or none.
func splitDeploymentQuery(q shipgraph.DeploymentQuery) (group[shipgraph.DeploymentQuery], int64) {
	switch {
	case q.BuildID != 0:
		parent := q.BuildID
		q.BuildID = 0
		return group[shipgraph.DeploymentQuery]{shared: q, parentCol: "build_id"}, parent
	case q.FeatureID != 0:
		parent := q.FeatureID
		q.FeatureID = 0
		return group[shipgraph.DeploymentQuery]{shared: q, parentCol: "feature_id"}, parent
	}
	return group[shipgraph.DeploymentQuery]{shared: q}, 0
}

func deploymentFilter(f shipgraph.DeploymentFilter) func(a *sqlArgs) []string {
	return func(a *sqlArgs) []string {
		var c []string
		if f.Environment != "" {
			c = append(c, "environment = "+a.add(f.Environment))
		}
		if f.Status != "" {
			c = append(c, "status = "+a.add(f.Status))
		}
		return c
	}
}

// deploymentParent reads the parent a group lists by.
func deploymentParent(col string) func(d *shipgraph.Deployment) int64 {
	if col == "build_id" {
		return func(d *shipgraph.Deployment) int64 { return d.BuildID }
	}
	return func(d *shipgraph.Deployment) int64 { return d.FeatureID }
}

// ListDeployments returns one page per query with one statement per group of
// queries that share their arguments.
func (s *Store) ListDeployments(ctx context.Context, qs []shipgraph.DeploymentQuery) ([]shipgraph.Page[*shipgraph.Deployment], error) {
	return batch(qs, splitDeploymentQuery, func(g group[shipgraph.DeploymentQuery], parents []int64) ([]shipgraph.Page[*shipgraph.Deployment], error) {
		return list(ctx, s.db.Pool, listing{
			t: deployments, parentCol: g.parentCol, parents: parents,
			filter: deploymentFilter(g.shared.Filter), order: g.shared.Order, page: g.shared.Page,
		}, deploymentParent(g.parentCol))
	})
}

// CountDeployments returns one count per query.
func (s *Store) CountDeployments(ctx context.Context, qs []shipgraph.DeploymentQuery) ([]int, error) {
	return batch(qs, splitDeploymentQuery, func(g group[shipgraph.DeploymentQuery], parents []int64) ([]int, error) {
		return count(ctx, s.db.Pool, counting{t: deployments, parentCol: g.parentCol, parents: parents, filter: deploymentFilter(g.shared.Filter)})
	})
}

// EventsByID returns events in ids order, nil for missing ones.
func (s *Store) EventsByID(ctx context.Context, ids []int64) ([]*shipgraph.DeploymentEvent, error) {
	return byID(ctx, s.db.Pool, events, ids, func(e *shipgraph.DeploymentEvent) int64 { return e.ID })
}

func splitEventQuery(q shipgraph.EventQuery) (group[shipgraph.EventQuery], int64) {
	parent := q.DeploymentID
	q.DeploymentID = 0
	return group[shipgraph.EventQuery]{shared: q, parentCol: "deployment_id"}, parent
}

// ListEvents returns one page of events per query.
func (s *Store) ListEvents(ctx context.Context, qs []shipgraph.EventQuery) ([]shipgraph.Page[*shipgraph.DeploymentEvent], error) {
	return batch(qs, splitEventQuery, func(g group[shipgraph.EventQuery], parents []int64) ([]shipgraph.Page[*shipgraph.DeploymentEvent], error) {
		return list(ctx, s.db.Pool, listing{
			t: events, parentCol: g.parentCol, parents: parents, order: g.shared.Order(), page: g.shared.Page,
		}, func(e *shipgraph.DeploymentEvent) int64 { return e.DeploymentID })
	})
}

// CountEvents returns one count per query.
func (s *Store) CountEvents(ctx context.Context, qs []shipgraph.EventQuery) ([]int, error) {
	return batch(qs, splitEventQuery, func(g group[shipgraph.EventQuery], parents []int64) ([]int, error) {
		return count(ctx, s.db.Pool, counting{t: events, parentCol: g.parentCol, parents: parents})
	})
}
