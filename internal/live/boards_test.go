package live_test

import (
	"context"
	"testing"
	"time"

	"github.com/shipgraph/shipgraph/internal/live"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// deploymentUpdated's subscribers share one bus subscription and one
// goroutine: each gets the changes its filter keeps, in order, with one
// notification per change and one for the end; once all have left,
// nothing of theirs remains.
func TestHubBoardsShareOneFanOut(t *testing.T) {
	t.Parallel()
	const boards, changes = 100, 40
	bus := &live.Memory{}
	hub := &live.Hub{Bus: bus, Log: &fakeLog{deployment: &shipgraph.Deployment{ID: 1}}}
	type reader struct {
		even   bool
		tokens chan struct{}
		out    <-chan *shipgraph.Deployment
		cancel context.CancelFunc
	}
	readers := make([]reader, boards)
	for i := range readers {
		ctx, cancel := context.WithCancel(t.Context())
		even := i%2 == 0
		tokens := make(chan struct{}, changes+1)
		keep := func(d *shipgraph.Deployment) bool { return !even || d.ID%2 == 0 }
		readers[i] = reader{even: even, tokens: tokens, cancel: cancel,
			out: hub.Deployments(ctx, keep, func() { tokens <- struct{}{} })}
	}
	if n := bus.Subscribers(); n != 1 {
		t.Fatalf("%d bus subscriptions for %d boards, want 1", n, boards)
	}
	for id := int64(1); id <= changes; id++ {
		bus.Publish(t.Context(), live.Update{Event: &shipgraph.DeploymentEvent{DeploymentID: id}, Deployment: &shipgraph.Deployment{ID: id}})
	}
	// A change without the deployment (all but the last of a batch) is
	// for the deployments' streams only.
	bus.Publish(t.Context(), live.Update{Event: &shipgraph.DeploymentEvent{DeploymentID: 2}})
	for i, r := range readers {
		for id := int64(1); id <= changes; id++ {
			if r.even && id%2 == 1 {
				continue
			}
			select {
			case <-r.tokens:
			case <-time.After(10 * time.Second):
				t.Fatalf("board %d: no notification for deployment %d", i, id)
			}
			select {
			case d := <-r.out:
				if d.ID != id {
					t.Fatalf("board %d: got deployment %d, want %d", i, d.ID, id)
				}
			default:
				t.Fatalf("board %d: notified, nothing to read", i)
			}
		}
	}
	for i, r := range readers {
		r.cancel()
		select {
		case <-r.tokens:
		case <-time.After(10 * time.Second):
			t.Fatalf("board %d: no notification for the end", i)
		}
		if _, ok := <-r.out; ok {
			t.Fatalf("board %d: a change after the end", i)
		}
	}
	// The fan-out's goroutine leaves the bus as it ends.
	deadline := time.Now().Add(5 * time.Second)
	for hub.Boards() != 0 || bus.Subscribers() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d boards, %d bus subscriptions left", hub.Boards(), bus.Subscribers())
		}
		time.Sleep(10 * time.Millisecond) // nothing to await: the fan-out ends on its own
	}
}
