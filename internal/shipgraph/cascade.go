package shipgraph

// FeatureCascade lists what deleting a feature deleted with it, so that
// copies of those rows kept elsewhere (a cache) can be dropped too.
type FeatureCascade struct {
	TestCaseIDs   []int64
	BuildIDs      []int64
	DeploymentIDs []int64
	EventIDs      []int64
}
