package loaders

import (
	"context"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// Pages are keyed by their whole query, so identical connections in one
// response share one load; counts are keyed without the page arguments,
// which do not change a count.

// Features loads a page of the root feature listing.
func Features(ctx context.Context, q shipgraph.FeatureQuery) (*shipgraph.FeatureConnection, error) {
	p, err := from(ctx).featurePage.Load(ctx, q)()
	if err != nil {
		return nil, err
	}
	return &shipgraph.FeatureConnection{Query: q, Page: p}, nil
}

// FeatureCount counts the features matching f.
func FeatureCount(ctx context.Context, f shipgraph.FeatureFilter) (int, error) {
	return from(ctx).featureCount.Load(ctx, f)()
}

// TestCases loads a page of a feature's test cases.
func TestCases(ctx context.Context, q shipgraph.TestCaseQuery) (*shipgraph.TestCaseConnection, error) {
	p, err := from(ctx).testCasePage.Load(ctx, q)()
	if err != nil {
		return nil, err
	}
	return &shipgraph.TestCaseConnection{Query: q, Page: p}, nil
}

// TestCaseCount counts a feature's test cases matching q.
func TestCaseCount(ctx context.Context, q shipgraph.TestCaseQuery) (int, error) {
	q.Page = shipgraph.PageArgs{}
	return from(ctx).testCaseCount.Load(ctx, q)()
}

// Builds loads a page of builds.
func Builds(ctx context.Context, q shipgraph.BuildQuery) (*shipgraph.BuildConnection, error) {
	p, err := from(ctx).buildPage.Load(ctx, q)()
	if err != nil {
		return nil, err
	}
	return &shipgraph.BuildConnection{Query: q, Page: p}, nil
}

// BuildCount counts the builds matching q.
func BuildCount(ctx context.Context, q shipgraph.BuildQuery) (int, error) {
	q.Page, q.Order = shipgraph.PageArgs{}, shipgraph.Order{}
	return from(ctx).buildCount.Load(ctx, q)()
}

// Deployments loads a page of deployments.
func Deployments(ctx context.Context, q shipgraph.DeploymentQuery) (*shipgraph.DeploymentConnection, error) {
	p, err := from(ctx).deploymentPage.Load(ctx, q)()
	if err != nil {
		return nil, err
	}
	return &shipgraph.DeploymentConnection{Query: q, Page: p}, nil
}

// DeploymentCount counts the deployments matching q.
func DeploymentCount(ctx context.Context, q shipgraph.DeploymentQuery) (int, error) {
	q.Page, q.Order = shipgraph.PageArgs{}, shipgraph.Order{}
	return from(ctx).deploymentCount.Load(ctx, q)()
}

// Events loads a page of a deployment's events.
func Events(ctx context.Context, q shipgraph.EventQuery) (*shipgraph.EventConnection, error) {
	p, err := from(ctx).eventPage.Load(ctx, q)()
	if err != nil {
		return nil, err
	}
	return &shipgraph.EventConnection{Query: q, Page: p}, nil
}

// EventCount counts a deployment's events.
func EventCount(ctx context.Context, q shipgraph.EventQuery) (int, error) {
	q.Page = shipgraph.PageArgs{}
	return from(ctx).eventCount.Load(ctx, q)()
}
