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

	// CreateDeployment records a QUEUED deployment of a SUCCEEDED build,
	// its first event and its job, in one transaction.
	// With an idempotency key already used it returns the deployment that
	// key created and created=false; a second active deployment of the
	// same feature to the same environment is CodeConflict.
	CreateDeployment(ctx context.Context, in DeploymentCreate) (d *Deployment, created bool, err error)
	// Transition records t as the deployment's next event (sequence
	// max+1 under the deployment's row lock) and updates the deployment's
	// status, progress, stages and error in the same transaction. A
	// deployment that has finished takes no more events (CodeConflict).
	Transition(ctx context.Context, t Transition) (*DeploymentEvent, *Deployment, error)
	// CancelDeployment cancels a queued or running deployment (and its
	// job, wherever it runs); a finished one is returned unchanged.
	CancelDeployment(ctx context.Context, id int64) (*Deployment, error)
	DeploymentsByID(ctx context.Context, ids []int64) ([]*Deployment, error)
	ListDeployments(ctx context.Context, qs []DeploymentQuery) ([]Page[*Deployment], error)
	CountDeployments(ctx context.Context, qs []DeploymentQuery) ([]int, error)

	EventsByID(ctx context.Context, ids []int64) ([]*DeploymentEvent, error)
	ListEvents(ctx context.Context, qs []EventQuery) ([]Page[*DeploymentEvent], error)
	CountEvents(ctx context.Context, qs []EventQuery) ([]int, error)
}
