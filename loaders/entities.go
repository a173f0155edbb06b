package loaders

import (
	"context"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// Feature loads a feature by id; nil when it does not exist.
func Feature(ctx context.Context, id int64) (*shipgraph.Feature, error) {
	return from(ctx).feature.Load(ctx, id)()
}

// TestCase loads a test case by id; nil when it does not exist.
func TestCase(ctx context.Context, id int64) (*shipgraph.TestCase, error) {
	return from(ctx).testCase.Load(ctx, id)()
}

// Build loads a build by id; nil when it does not exist.
func Build(ctx context.Context, id int64) (*shipgraph.Build, error) {
	return from(ctx).build.Load(ctx, id)()
}

// Deployment loads a deployment by id; nil when it does not exist.
func Deployment(ctx context.Context, id int64) (*shipgraph.Deployment, error) {
	return from(ctx).deployment.Load(ctx, id)()
}

// Event loads a deployment event by id; nil when it does not exist.
func Event(ctx context.Context, id int64) (*shipgraph.DeploymentEvent, error) {
	return from(ctx).event.Load(ctx, id)()
}
