package loaders

import (
	"context"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// A connection's edges, nodes and pageInfo resolve separately; keyed by the
// whole query, they share one load. Counts are keyed without the page
// arguments, which do not change a count.

// FeaturePage loads a page of the root feature listing.
func FeaturePage(ctx context.Context, q shipgraph.FeatureQuery) (shipgraph.Page[*shipgraph.Feature], error) {
	return from(ctx).featurePage.Load(ctx, q)()
}

// FeatureCount counts the features matching f.
func FeatureCount(ctx context.Context, f shipgraph.FeatureFilter) (int, error) {
	return from(ctx).featureCount.Load(ctx, f)()
}

// TestCasePage loads a page of a feature's test cases.
func TestCasePage(ctx context.Context, q shipgraph.TestCaseQuery) (shipgraph.Page[*shipgraph.TestCase], error) {
	return from(ctx).testCasePage.Load(ctx, q)()
}

// TestCaseCount counts a feature's test cases matching q.
func TestCaseCount(ctx context.Context, q shipgraph.TestCaseQuery) (int, error) {
	q.Page = shipgraph.PageArgs{}
	return from(ctx).testCaseCount.Load(ctx, q)()
}

// BuildPage loads a page of builds.
func BuildPage(ctx context.Context, q shipgraph.BuildQuery) (shipgraph.Page[*shipgraph.Build], error) {
	return from(ctx).buildPage.Load(ctx, q)()
}

// BuildCount counts the builds matching q.
func BuildCount(ctx context.Context, q shipgraph.BuildQuery) (int, error) {
	q.Page, q.Order = shipgraph.PageArgs{}, shipgraph.Order{}
	return from(ctx).buildCount.Load(ctx, q)()
}

// DeploymentPage loads a page of deployments.
func DeploymentPage(ctx context.Context, q shipgraph.DeploymentQuery) (shipgraph.Page[*shipgraph.Deployment], error) {
	return from(ctx).deploymentPage.Load(ctx, q)()
}

// DeploymentCount counts the deployments matching q.
func DeploymentCount(ctx context.Context, q shipgraph.DeploymentQuery) (int, error) {
	q.Page, q.Order = shipgraph.PageArgs{}, shipgraph.Order{}
	return from(ctx).deploymentCount.Load(ctx, q)()
}

// EventPage loads a page of a deployment's events.
func EventPage(ctx context.Context, q shipgraph.EventQuery) (shipgraph.Page[*shipgraph.DeploymentEvent], error) {
	return from(ctx).eventPage.Load(ctx, q)()
}

// EventCount counts a deployment's events.
func EventCount(ctx context.Context, q shipgraph.EventQuery) (int, error) {
	q.Page = shipgraph.PageArgs{}
	return from(ctx).eventCount.Load(ctx, q)()
}
