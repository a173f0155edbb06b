// Package resolvers maps GraphQL fields to the store and the loaders. Each
// resolver is thin: decode arguments, make one call, return.
package resolvers

import (
	"context"

	"github.com/shipgraph/shipgraph/graph/model"
	"github.com/shipgraph/shipgraph/internal/live"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
	"github.com/shipgraph/shipgraph/loaders"
)

// Resolver is the root of the resolver tree; it holds the dependencies.
type Resolver struct {
	Store shipgraph.Store
	// Hub streams deployment progress and changes to subscriptions.
	Hub *live.Hub
}

// pageArgs validates Relay pagination arguments against the order they
// page through, so a bad cursor fails before any query runs.
func pageArgs(first *int, after *string, last *int, before *string, order shipgraph.Order) (shipgraph.PageArgs, error) {
	if first != nil && *first < 1 {
		return shipgraph.PageArgs{}, shipgraph.InvalidField("first", "first must be between 1 and %d", shipgraph.MaxPageSize)
	}
	if last != nil && *last < 1 {
		return shipgraph.PageArgs{}, shipgraph.InvalidField("last", "last must be between 1 and %d", shipgraph.MaxPageSize)
	}
	p := shipgraph.PageArgs{First: deref(first), After: deref(after), Last: deref(last), Before: deref(before)}
	return p, p.Validate(order)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// order maps a GraphQL order input (field and direction enums share the
// domain's names) to the domain's; def applies when the client passed null.
func order[F ~string](field F, dir model.OrderDirection, set bool, def shipgraph.Order) shipgraph.Order {
	if !set {
		return def
	}
	return shipgraph.Order{Field: shipgraph.OrderField(field), Desc: dir == model.OrderDirectionDesc}
}

// loadNode loads any node by kind and key. It returns a nil interface, not a
// typed nil, when nothing is found.
func loadNode(ctx context.Context, kind shipgraph.Kind, id int64) (shipgraph.Node, error) {
	switch kind {
	case shipgraph.KindFeature:
		return nonNil(loaders.Feature(ctx, id))
	case shipgraph.KindTestCase:
		return nonNil(loaders.TestCase(ctx, id))
	case shipgraph.KindBuild:
		return nonNil(loaders.Build(ctx, id))
	case shipgraph.KindDeployment:
		return nonNil(loaders.Deployment(ctx, id))
	case shipgraph.KindDeploymentEvent:
		return nonNil(loaders.Event(ctx, id))
	}
	return nil, nil
}

func nonNil[T shipgraph.Node](n T, err error) (shipgraph.Node, error) {
	if err != nil {
		return nil, err
	}
	var node shipgraph.Node = n
	if any(n) == any(*new(T)) {
		return nil, nil
	}
	return node, nil
}

// exists turns a nil entity into NOT_FOUND, for relations that must exist.
func exists[T any](v *T, err error) (*T, error) {
	if err == nil && v == nil {
		return nil, shipgraph.Errorf(shipgraph.CodeNotFound, "not found")
	}
	return v, err
}

// builds maps the arguments of a builds connection and loads its page.
func builds(ctx context.Context, feature *shipgraph.Feature, first *int, after *string, last *int, before *string,
	filter *model.BuildFilter, orderBy *model.BuildOrder, def shipgraph.Order) (*shipgraph.BuildConnection, error) {
	q := shipgraph.BuildQuery{Order: def}
	if orderBy != nil {
		q.Order = order(orderBy.Field, orderBy.Direction, true, def)
	}
	if filter != nil {
		q.Filter = shipgraph.BuildFilter{Status: deref(filter.Status), Branch: deref(filter.Branch)}
		if err := q.Filter.Validate(); err != nil {
			return nil, err
		}
	}
	var err error
	if q.Page, err = pageArgs(first, after, last, before, q.Order); err != nil {
		return nil, err
	}
	if feature != nil {
		return loaders.FeatureBuilds(ctx, feature, q)
	}
	return loaders.Builds(ctx, q)
}

// deployments maps the arguments of a deployments connection and loads its
// page: of feature or build when one is given, else the root listing.
// Deployments list newest first unless ordered.
func deployments(ctx context.Context, feature *shipgraph.Feature, build *shipgraph.Build, first *int, after *string, last *int, before *string,
	filter *model.DeploymentFilter, orderBy *model.DeploymentOrder) (*shipgraph.DeploymentConnection, error) {
	q := shipgraph.DeploymentQuery{Order: shipgraph.Order{Field: shipgraph.OrderCreatedAt, Desc: true}}
	if orderBy != nil {
		q.Order = order(orderBy.Field, orderBy.Direction, true, q.Order)
	}
	if filter != nil {
		q.Filter = shipgraph.DeploymentFilter{Environment: deref(filter.Environment), Status: deref(filter.Status)}
		if err := q.Filter.Validate(); err != nil {
			return nil, err
		}
	}
	var err error
	if q.Page, err = pageArgs(first, after, last, before, q.Order); err != nil {
		return nil, err
	}
	switch {
	case feature != nil:
		return loaders.FeatureDeployments(ctx, feature, q)
	case build != nil:
		return loaders.BuildDeployments(ctx, build, q)
	}
	return loaders.Deployments(ctx, q)
}
