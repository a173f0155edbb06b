package loaders

import (
	"context"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// Connections. A relation's pages are loaded for every sibling of the
// parent with one statement; the connections made by that statement are
// siblings too, so their totalCounts are counted with one statement; and
// the items of all the pages are siblings of each other, for the next level
// down.

// connections turns the pages of one statement into connections and
// records the families and ids they bring.
func connections[Q any, T any, C any](l *Loaders, kind string, qs []Q, pages []shipgraph.Page[*T],
	id func(*T) int64, conn func(Q, shipgraph.Page[*T]) *C) []*C {
	out := make([]*C, len(pages))
	var items []*T
	for i, p := range pages {
		out[i] = conn(qs[i], p)
		items = append(items, p.Items...)
	}
	remember(l.sib, kind, items, id)
	adopt(l.sib, items)
	adopt(l.sib, out)
	return out
}

// perParent loads relation kind of parent, a page per parent, for all of
// parent's siblings at once: each parent's query is args with the
// parent's id set by withParent; fetch answers many queries, in order.
func perParent[P any, Q comparable, R any](ctx context.Context, l *Loaders, kind string, parent *P, id func(*P) int64,
	args Q, withParent func(Q, int64) Q, fetch func(context.Context, []Q) ([]R, error)) (R, error) {
	a := intern(l.sib, kind, args)
	key := func(p *P) argsKey { return argsKey{a, id(p)} }
	return load(ctx, l.sib, kind, parent, key, func(ctx context.Context, keys []argsKey) ([]R, error) {
		qs := make([]Q, len(keys))
		for i, k := range keys {
			qs[i] = withParent(args, k.parent)
		}
		return fetch(ctx, qs)
	})
}

// Features loads a page of the root feature listing.
func Features(ctx context.Context, q shipgraph.FeatureQuery) (*shipgraph.FeatureConnection, error) {
	l := from(ctx)
	return once(ctx, l.sib, "features", q, func(ctx context.Context, q shipgraph.FeatureQuery) (*shipgraph.FeatureConnection, error) {
		p, err := l.store.ListFeatures(ctx, q)
		if err != nil {
			return nil, err
		}
		return connections(l, kindFeature, []shipgraph.FeatureQuery{q}, []shipgraph.Page[*shipgraph.Feature]{p}, (*shipgraph.Feature).Key,
			func(q shipgraph.FeatureQuery, p shipgraph.Page[*shipgraph.Feature]) *shipgraph.FeatureConnection {
				return &shipgraph.FeatureConnection{Query: q, Page: p}
			})[0], nil
	})
}

// FeatureCount counts the features matching c's filter.
func FeatureCount(ctx context.Context, c *shipgraph.FeatureConnection) (int, error) {
	l := from(ctx)
	return once(ctx, l.sib, "featureCount", c.Query.Filter, l.store.CountFeatures)
}

// TestCases loads a page of f's test cases; q's FeatureID is ignored.
func TestCases(ctx context.Context, f *shipgraph.Feature, q shipgraph.TestCaseQuery) (*shipgraph.TestCaseConnection, error) {
	l := from(ctx)
	q.FeatureID = 0
	withParent := func(q shipgraph.TestCaseQuery, id int64) shipgraph.TestCaseQuery { q.FeatureID = id; return q }
	return perParent(ctx, l, "testCases", f, (*shipgraph.Feature).Key, q, withParent, func(ctx context.Context, qs []shipgraph.TestCaseQuery) ([]*shipgraph.TestCaseConnection, error) {
		pages, err := l.store.ListTestCases(ctx, qs)
		if err != nil {
			return nil, err
		}
		return connections(l, kindTestCase, qs, pages, (*shipgraph.TestCase).Key,
			func(q shipgraph.TestCaseQuery, p shipgraph.Page[*shipgraph.TestCase]) *shipgraph.TestCaseConnection {
				return &shipgraph.TestCaseConnection{Query: q, Page: p}
			}), nil
	})
}

// TestCaseCount counts the test cases of c's query.
func TestCaseCount(ctx context.Context, c *shipgraph.TestCaseConnection) (int, error) {
	l := from(ctx)
	key := func(c *shipgraph.TestCaseConnection) shipgraph.TestCaseQuery {
		q := c.Query
		q.Page = shipgraph.PageArgs{} // pages do not change a count
		return q
	}
	return load(ctx, l.sib, "testCaseCount", c, key, l.store.CountTestCases)
}

// Builds loads a page of builds: of a feature when q.FeatureID is set (see
// FeatureBuilds), else the root listing.
func Builds(ctx context.Context, q shipgraph.BuildQuery) (*shipgraph.BuildConnection, error) {
	l := from(ctx)
	// Not "builds": that is the relation's, whose keys are of another type.
	return once(ctx, l.sib, "rootBuilds", q, func(ctx context.Context, q shipgraph.BuildQuery) (*shipgraph.BuildConnection, error) {
		cs, err := buildPages(ctx, l, []shipgraph.BuildQuery{q})
		if err != nil {
			return nil, err
		}
		return cs[0], nil
	})
}

// FeatureBuilds loads a page of f's builds; q's FeatureID is ignored.
func FeatureBuilds(ctx context.Context, f *shipgraph.Feature, q shipgraph.BuildQuery) (*shipgraph.BuildConnection, error) {
	l := from(ctx)
	q.FeatureID = 0
	withParent := func(q shipgraph.BuildQuery, id int64) shipgraph.BuildQuery { q.FeatureID = id; return q }
	return perParent(ctx, l, "builds", f, (*shipgraph.Feature).Key, q, withParent, func(ctx context.Context, qs []shipgraph.BuildQuery) ([]*shipgraph.BuildConnection, error) {
		return buildPages(ctx, l, qs)
	})
}

func buildPages(ctx context.Context, l *Loaders, qs []shipgraph.BuildQuery) ([]*shipgraph.BuildConnection, error) {
	pages, err := l.store.ListBuilds(ctx, qs)
	if err != nil {
		return nil, err
	}
	return connections(l, kindBuild, qs, pages, (*shipgraph.Build).Key,
		func(q shipgraph.BuildQuery, p shipgraph.Page[*shipgraph.Build]) *shipgraph.BuildConnection {
			return &shipgraph.BuildConnection{Query: q, Page: p}
		}), nil
}

// BuildCount counts the builds of c's query.
func BuildCount(ctx context.Context, c *shipgraph.BuildConnection) (int, error) {
	l := from(ctx)
	key := func(c *shipgraph.BuildConnection) shipgraph.BuildQuery {
		q := c.Query
		q.Page, q.Order = shipgraph.PageArgs{}, shipgraph.Order{}
		return q
	}
	return load(ctx, l.sib, "buildCount", c, key, l.store.CountBuilds)
}

// Deployments loads a page of the root deployment listing.
func Deployments(ctx context.Context, q shipgraph.DeploymentQuery) (*shipgraph.DeploymentConnection, error) {
	l := from(ctx)
	return once(ctx, l.sib, "deployments", q, func(ctx context.Context, q shipgraph.DeploymentQuery) (*shipgraph.DeploymentConnection, error) {
		cs, err := deploymentPages(ctx, l, []shipgraph.DeploymentQuery{q})
		if err != nil {
			return nil, err
		}
		return cs[0], nil
	})
}

// FeatureDeployments loads a page of f's deployments; q's parents are ignored.
func FeatureDeployments(ctx context.Context, f *shipgraph.Feature, q shipgraph.DeploymentQuery) (*shipgraph.DeploymentConnection, error) {
	l := from(ctx)
	q.FeatureID, q.BuildID = 0, 0
	withParent := func(q shipgraph.DeploymentQuery, id int64) shipgraph.DeploymentQuery { q.FeatureID = id; return q }
	return perParent(ctx, l, "featureDeployments", f, (*shipgraph.Feature).Key, q, withParent, func(ctx context.Context, qs []shipgraph.DeploymentQuery) ([]*shipgraph.DeploymentConnection, error) {
		return deploymentPages(ctx, l, qs)
	})
}

// BuildDeployments loads a page of b's deployments; q's parents are ignored.
func BuildDeployments(ctx context.Context, b *shipgraph.Build, q shipgraph.DeploymentQuery) (*shipgraph.DeploymentConnection, error) {
	l := from(ctx)
	q.FeatureID, q.BuildID = 0, 0
	withParent := func(q shipgraph.DeploymentQuery, id int64) shipgraph.DeploymentQuery { q.BuildID = id; return q }
	return perParent(ctx, l, "buildDeployments", b, (*shipgraph.Build).Key, q, withParent, func(ctx context.Context, qs []shipgraph.DeploymentQuery) ([]*shipgraph.DeploymentConnection, error) {
		return deploymentPages(ctx, l, qs)
	})
}

func deploymentPages(ctx context.Context, l *Loaders, qs []shipgraph.DeploymentQuery) ([]*shipgraph.DeploymentConnection, error) {
	pages, err := l.store.ListDeployments(ctx, qs)
	if err != nil {
		return nil, err
	}
	return connections(l, kindDeployment, qs, pages, (*shipgraph.Deployment).Key,
		func(q shipgraph.DeploymentQuery, p shipgraph.Page[*shipgraph.Deployment]) *shipgraph.DeploymentConnection {
			return &shipgraph.DeploymentConnection{Query: q, Page: p}
		}), nil
}

// DeploymentCount counts the deployments of c's query.
func DeploymentCount(ctx context.Context, c *shipgraph.DeploymentConnection) (int, error) {
	l := from(ctx)
	key := func(c *shipgraph.DeploymentConnection) shipgraph.DeploymentQuery {
		q := c.Query
		q.Page, q.Order = shipgraph.PageArgs{}, shipgraph.Order{}
		return q
	}
	return load(ctx, l.sib, "deploymentCount", c, key, l.store.CountDeployments)
}

// Events loads a page of d's events; q's DeploymentID is ignored.
func Events(ctx context.Context, d *shipgraph.Deployment, q shipgraph.EventQuery) (*shipgraph.EventConnection, error) {
	l := from(ctx)
	q.DeploymentID = 0
	withParent := func(q shipgraph.EventQuery, id int64) shipgraph.EventQuery { q.DeploymentID = id; return q }
	return perParent(ctx, l, "events", d, (*shipgraph.Deployment).Key, q, withParent, func(ctx context.Context, qs []shipgraph.EventQuery) ([]*shipgraph.EventConnection, error) {
		pages, err := l.store.ListEvents(ctx, qs)
		if err != nil {
			return nil, err
		}
		return connections(l, kindEvent, qs, pages, (*shipgraph.DeploymentEvent).Key,
			func(q shipgraph.EventQuery, p shipgraph.Page[*shipgraph.DeploymentEvent]) *shipgraph.EventConnection {
				return &shipgraph.EventConnection{Query: q, Page: p}
			}), nil
	})
}

// EventCount counts the events of c's deployment.
func EventCount(ctx context.Context, c *shipgraph.EventConnection) (int, error) {
	l := from(ctx)
	key := func(c *shipgraph.EventConnection) shipgraph.EventQuery {
		q := c.Query
		q.Page = shipgraph.PageArgs{}
		return q
	}
	return load(ctx, l.sib, "eventCount", c, key, l.store.CountEvents)
}
