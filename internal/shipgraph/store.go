package shipgraph

import "context"

// Store is the system of record. Batch methods take many keys or queries and
// return one result per key, in key order (nil where a row does not exist),
// so that loaders can answer many resolvers with one statement.
type Store interface {
	CreateFeature(ctx context.Context, in FeatureCreate) (*Feature, error)
	UpdateFeature(ctx context.Context, in FeatureUpdate) (*Feature, error)
	// DeleteFeature deletes a feature with its test cases, builds and
	// deployments; it refuses (CodeConflict) while a deployment is active.
	DeleteFeature(ctx context.Context, id int64) error
	FeaturesByID(ctx context.Context, ids []int64) ([]*Feature, error)
	ListFeatures(ctx context.Context, q FeatureQuery) (Page[*Feature], error)
	CountFeatures(ctx context.Context, f FeatureFilter) (int, error)

	CreateTestCase(ctx context.Context, in TestCaseCreate) (*TestCase, error)
	UpdateTestCase(ctx context.Context, in TestCaseUpdate) (*TestCase, error)
	DeleteTestCase(ctx context.Context, id int64) error
	TestCasesByID(ctx context.Context, ids []int64) ([]*TestCase, error)
	ListTestCases(ctx context.Context, qs []TestCaseQuery) ([]Page[*TestCase], error)
	CountTestCases(ctx context.Context, qs []TestCaseQuery) ([]int, error)

	// CreateBuild gives the build the feature's next number.
	CreateBuild(ctx context.Context, in BuildCreate) (*Build, error)
	UpdateBuildStatus(ctx context.Context, in BuildStatusUpdate) (*Build, error)
	BuildsByID(ctx context.Context, ids []int64) ([]*Build, error)
	ListBuilds(ctx context.Context, qs []BuildQuery) ([]Page[*Build], error)
	CountBuilds(ctx context.Context, qs []BuildQuery) ([]int, error)

	DeploymentsByID(ctx context.Context, ids []int64) ([]*Deployment, error)
	ListDeployments(ctx context.Context, qs []DeploymentQuery) ([]Page[*Deployment], error)
	CountDeployments(ctx context.Context, qs []DeploymentQuery) ([]int, error)

	EventsByID(ctx context.Context, ids []int64) ([]*DeploymentEvent, error)
	ListEvents(ctx context.Context, qs []EventQuery) ([]Page[*DeploymentEvent], error)
	CountEvents(ctx context.Context, qs []EventQuery) ([]int, error)
}
