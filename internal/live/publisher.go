package live

import (
	"context"
	"log/slog"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// Publisher is a shipgraph.Store that publishes every deployment change on
// a Bus once it has committed: the log first, the live feed second.
type Publisher struct {
	shipgraph.Store
	Bus Bus
	Log *slog.Logger
}

// publish sends u; a bus failure is logged, not returned: the change is
// committed, and subscribers refill from the log.
func (p *Publisher) publish(ctx context.Context, u Update) {
	if err := p.Bus.Publish(ctx, u); err != nil && p.Log != nil {
		p.Log.WarnContext(ctx, "publish deployment event", "deployment", u.Event.DeploymentID, "sequence", u.Event.Sequence, "error", err)
	}
}

// latest publishes the newest event of d.
func (p *Publisher) latest(ctx context.Context, d *shipgraph.Deployment) {
	pages, err := p.Store.ListEvents(ctx, []shipgraph.EventQuery{{DeploymentID: d.ID, Page: shipgraph.PageArgs{Last: 1}}})
	if err != nil || len(pages[0].Items) == 0 {
		return
	}
	p.publish(ctx, Update{Event: pages[0].Items[0], Deployment: d})
}

// Transition implements shipgraph.Store.
func (p *Publisher) Transition(ctx context.Context, t shipgraph.Transition) (*shipgraph.DeploymentEvent, *shipgraph.Deployment, error) {
	e, d, err := p.Store.Transition(ctx, t)
	if err == nil {
		p.publish(ctx, Update{Event: e, Deployment: d})
	}
	return e, d, err
}

// CreateDeployment implements shipgraph.Store.
func (p *Publisher) CreateDeployment(ctx context.Context, in shipgraph.DeploymentCreate) (*shipgraph.Deployment, bool, error) {
	d, created, err := p.Store.CreateDeployment(ctx, in)
	if err == nil && created {
		p.latest(ctx, d)
	}
	return d, created, err
}

// CancelDeployment implements shipgraph.Store.
func (p *Publisher) CancelDeployment(ctx context.Context, id int64) (*shipgraph.Deployment, error) {
	d, err := p.Store.CancelDeployment(ctx, id)
	if err == nil && d.Status == shipgraph.DeploymentCancelled {
		p.latest(ctx, d)
	}
	return d, err
}
