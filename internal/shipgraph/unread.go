package shipgraph

import "context"

// Unread names fields of listed entities that a read may leave empty
// (zero, nil), because the operation that reads asks for none of them. A
// nested read of 500 deployments otherwise reads half a megabyte of stage
// JSON nobody asked for, and scanning a column costs about as much whether
// or not anyone reads it: a GraphQL-to-SQL compiler selects only the
// columns asked for, and this is that saving where it matters (the large
// texts and the nullable columns, which need no placeholder value).
//
// It applies to listings only (pages of a relation or of a root list),
// whose entities live as long as one response; lookups by id, which the
// entity cache keeps, always read whole rows.
type Unread struct {
	FeatureDescription bool // Feature.Description
	TestCaseText       bool // TestCase.Steps and TestCase.ExpectedResult
	BuildTimes         bool // Build.StartedAt and Build.FinishedAt
	DeploymentStages   bool // Deployment.StagesJSON
	DeploymentError    bool // Deployment.Error
	DeploymentTimes    bool // Deployment.StartedAt and Deployment.FinishedAt
}

type unreadKey struct{}

// WithUnread returns ctx whose listings may leave u's fields empty.
func WithUnread(ctx context.Context, u Unread) context.Context {
	if u == (Unread{}) {
		return ctx
	}
	return context.WithValue(ctx, unreadKey{}, u)
}

// UnreadFrom returns what listings in ctx may leave unread.
func UnreadFrom(ctx context.Context) Unread {
	u, _ := ctx.Value(unreadKey{}).(Unread)
	return u
}
