package loaders

import (
	"context"

	"github.com/graph-gophers/dataloader/v7"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// Kinds of the by-id caches; relations that lead to the same entity share
// them, so an entity is fetched once per response however it is reached.
const (
	kindFeature    = "Feature"
	kindTestCase   = "TestCase"
	kindBuild      = "Build"
	kindDeployment = "Deployment"
	kindEvent      = "DeploymentEvent"
)

// byID looks an entity up from the root (node, nodes, feature(id), …):
// from the response's cache when a page brought it, else through the
// dataloader that gathers concurrent lookups into one statement.
func byID[T any](ctx context.Context, l *Loaders, kind string, id int64, loader *dataloader.Loader[int64, *T]) (*T, error) {
	l.sib.mu.Lock()
	l.sib.indexLocked(kind)
	cached, ok := resultsOf[int64, *T](l.sib, kind)[id]
	l.sib.mu.Unlock()
	if ok {
		return cached, nil
	}
	return loader.Load(ctx, id)()
}

// Feature loads a feature by id; nil when it does not exist.
func Feature(ctx context.Context, id int64) (*shipgraph.Feature, error) {
	l := from(ctx)
	return byID(ctx, l, kindFeature, id, l.feature)
}

// TestCase loads a test case by id; nil when it does not exist.
func TestCase(ctx context.Context, id int64) (*shipgraph.TestCase, error) {
	l := from(ctx)
	return byID(ctx, l, kindTestCase, id, l.testCase)
}

// Build loads a build by id; nil when it does not exist.
func Build(ctx context.Context, id int64) (*shipgraph.Build, error) {
	l := from(ctx)
	return byID(ctx, l, kindBuild, id, l.build)
}

// Deployment loads a deployment by id; nil when it does not exist.
func Deployment(ctx context.Context, id int64) (*shipgraph.Deployment, error) {
	l := from(ctx)
	return byID(ctx, l, kindDeployment, id, l.deployment)
}

// Event loads a deployment event by id; nil when it does not exist.
func Event(ctx context.Context, id int64) (*shipgraph.DeploymentEvent, error) {
	l := from(ctx)
	return byID(ctx, l, kindEvent, id, l.event)
}

// Relations that point to one entity: loaded for every sibling of the child
// at once, by id; the entities loaded together are siblings in turn, so
// that going back up (deployments → feature → builds) batches too.

// FeatureOfTestCase loads the feature of t.
func FeatureOfTestCase(ctx context.Context, t *shipgraph.TestCase) (*shipgraph.Feature, error) {
	l := from(ctx)
	return load(ctx, l.sib, kindFeature, t, func(t *shipgraph.TestCase) int64 { return t.FeatureID }, l.featuresByID)
}

// FeatureOfBuild loads the feature of b.
func FeatureOfBuild(ctx context.Context, b *shipgraph.Build) (*shipgraph.Feature, error) {
	l := from(ctx)
	return load(ctx, l.sib, kindFeature, b, func(b *shipgraph.Build) int64 { return b.FeatureID }, l.featuresByID)
}

// FeatureOfDeployment loads the feature of d.
func FeatureOfDeployment(ctx context.Context, d *shipgraph.Deployment) (*shipgraph.Feature, error) {
	l := from(ctx)
	return load(ctx, l.sib, kindFeature, d, func(d *shipgraph.Deployment) int64 { return d.FeatureID }, l.featuresByID)
}

// BuildOfDeployment loads the build of d.
func BuildOfDeployment(ctx context.Context, d *shipgraph.Deployment) (*shipgraph.Build, error) {
	l := from(ctx)
	return load(ctx, l.sib, kindBuild, d, func(d *shipgraph.Deployment) int64 { return d.BuildID }, l.buildsByID)
}

// DeploymentOfEvent loads the deployment of e.
func DeploymentOfEvent(ctx context.Context, e *shipgraph.DeploymentEvent) (*shipgraph.Deployment, error) {
	l := from(ctx)
	return load(ctx, l.sib, kindDeployment, e, func(e *shipgraph.DeploymentEvent) int64 { return e.DeploymentID }, l.deploymentsByID)
}
