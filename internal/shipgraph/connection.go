package shipgraph

// Connections are pages as the API presents them (Relay's cursor
// connections): the items, an edge with a cursor per item, and where the
// page sits in its listing. A connection is built from a page that is
// already loaded, so presenting it needs no further work per field.

// PageInfo says where a page sits in its listing.
type PageInfo struct {
	HasNextPage     bool
	HasPreviousPage bool
	StartCursor     *string
	EndCursor       *string
}

// cursored is an entity with a position in an ordering.
type cursored interface {
	CursorOf(Order) Cursor
}

func pageInfo[T cursored](p Page[T], o Order) PageInfo {
	info := PageInfo{HasNextPage: p.HasNextPage, HasPreviousPage: p.HasPreviousPage}
	if n := len(p.Items); n > 0 {
		start, end := p.Items[0].CursorOf(o).Encode(), p.Items[n-1].CursorOf(o).Encode()
		info.StartCursor, info.EndCursor = &start, &end
	}
	return info
}

func edges[T cursored, E any](p Page[T], o Order, edge func(cursor string, node T) E) []E {
	out := make([]E, len(p.Items))
	for i, it := range p.Items {
		out[i] = edge(it.CursorOf(o).Encode(), it)
	}
	return out
}

// FeatureConnection is a page of features.
type FeatureConnection struct {
	Query FeatureQuery
	Page  Page[*Feature]
}

// FeatureEdge is a feature with its cursor.
type FeatureEdge struct {
	Cursor string
	Node   *Feature
}

// Nodes returns the features of the page.
func (c *FeatureConnection) Nodes() []*Feature { return c.Page.Items }

// PageInfo says where the page sits.
func (c *FeatureConnection) PageInfo() PageInfo { return pageInfo(c.Page, c.Query.Order) }

// Edges pairs each feature with its cursor.
func (c *FeatureConnection) Edges() []FeatureEdge {
	return edges(c.Page, c.Query.Order, func(cur string, n *Feature) FeatureEdge { return FeatureEdge{cur, n} })
}

// TestCaseConnection is a page of a feature's test cases.
type TestCaseConnection struct {
	Query TestCaseQuery
	Page  Page[*TestCase]
}

// TestCaseEdge is a test case with its cursor.
type TestCaseEdge struct {
	Cursor string
	Node   *TestCase
}

// Nodes returns the test cases of the page.
func (c *TestCaseConnection) Nodes() []*TestCase { return c.Page.Items }

// PageInfo says where the page sits.
func (c *TestCaseConnection) PageInfo() PageInfo { return pageInfo(c.Page, c.Query.Order()) }

// Edges pairs each test case with its cursor.
func (c *TestCaseConnection) Edges() []TestCaseEdge {
	return edges(c.Page, c.Query.Order(), func(cur string, n *TestCase) TestCaseEdge { return TestCaseEdge{cur, n} })
}

// BuildConnection is a page of builds.
type BuildConnection struct {
	Query BuildQuery
	Page  Page[*Build]
}

// BuildEdge is a build with its cursor.
type BuildEdge struct {
	Cursor string
	Node   *Build
}

// Nodes returns the builds of the page.
func (c *BuildConnection) Nodes() []*Build { return c.Page.Items }

// PageInfo says where the page sits.
func (c *BuildConnection) PageInfo() PageInfo { return pageInfo(c.Page, c.Query.Order) }

// Edges pairs each build with its cursor.
func (c *BuildConnection) Edges() []BuildEdge {
	return edges(c.Page, c.Query.Order, func(cur string, n *Build) BuildEdge { return BuildEdge{cur, n} })
}

// DeploymentConnection is a page of deployments.
type DeploymentConnection struct {
	Query DeploymentQuery
	Page  Page[*Deployment]
}

// DeploymentEdge is a deployment with its cursor.
type DeploymentEdge struct {
	Cursor string
	Node   *Deployment
}

// Nodes returns the deployments of the page.
func (c *DeploymentConnection) Nodes() []*Deployment { return c.Page.Items }

// PageInfo says where the page sits.
func (c *DeploymentConnection) PageInfo() PageInfo { return pageInfo(c.Page, c.Query.Order) }

// Edges pairs each deployment with its cursor.
func (c *DeploymentConnection) Edges() []DeploymentEdge {
	return edges(c.Page, c.Query.Order, func(cur string, n *Deployment) DeploymentEdge { return DeploymentEdge{cur, n} })
}

// EventConnection is a page of a deployment's events.
type EventConnection struct {
	Query EventQuery
	Page  Page[*DeploymentEvent]
}

// EventEdge is an event with its cursor.
type EventEdge struct {
	Cursor string
	Node   *DeploymentEvent
}

// Nodes returns the events of the page.
func (c *EventConnection) Nodes() []*DeploymentEvent { return c.Page.Items }

// PageInfo says where the page sits.
func (c *EventConnection) PageInfo() PageInfo { return pageInfo(c.Page, c.Query.Order()) }

// Edges pairs each event with its cursor.
func (c *EventConnection) Edges() []EventEdge {
	return edges(c.Page, c.Query.Order(), func(cur string, n *DeploymentEvent) EventEdge { return EventEdge{cur, n} })
}
