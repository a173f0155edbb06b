package live_test

import (
	"context"
	"sync"
	"testing"

	"github.com/shipgraph/shipgraph/internal/live"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// BenchmarkHubFanOut is the hub's own share of live delivery, without
// GraphQL or WebSocket: 100 deployments with 50 subscribers each (the
// shape of make bench-live), every subscriber drained by a goroutine as
// gqlgen drains its channel. One op is one event published on each of the
// 100 deployments and received by all 5,000 subscribers; ns/delivery is
// per event per subscriber.
func BenchmarkHubFanOut(b *testing.B) {
	const deployments, perDeployment = 100, 50
	bus := &live.Memory{Buffer: 1024}
	logs := make([]*fakeLog, deployments)
	hub := &live.Hub{Bus: bus, Log: multiLog(logs), Refill: 1 << 62, Buffer: 64}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var received sync.WaitGroup
	for i := range logs {
		logs[i] = &fakeLog{deployment: &shipgraph.Deployment{ID: int64(i + 1), Status: shipgraph.DeploymentInProgress}}
		logs[i].commit(1, shipgraph.DeploymentQueued)
	}
	var ready sync.WaitGroup
	for _, l := range logs {
		for range perDeployment {
			s, err := hub.Progress(ctx, l.deployment.ID, 0, nil)
			if err != nil {
				b.Fatal(err)
			}
			ready.Add(1)
			go func() {
				<-s // the replayed first event
				ready.Done()
				for range s {
					received.Done()
				}
			}()
		}
	}
	ready.Wait()
	b.ResetTimer()
	for seq := 2; seq < b.N+2; seq++ {
		received.Add(deployments * perDeployment)
		for _, l := range logs {
			for _, e := range l.commit(seq, shipgraph.DeploymentInProgress) {
				bus.Publish(ctx, live.Update{Event: e})
			}
		}
		received.Wait()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*deployments*perDeployment), "ns/delivery")
}

// multiLog is the logs of several deployments as one EventLog.
type multiLog []*fakeLog

func (m multiLog) log(id int64) *fakeLog { return m[id-1] }

func (m multiLog) DeploymentsByID(ctx context.Context, ids []int64) ([]*shipgraph.Deployment, error) {
	return m.log(ids[0]).DeploymentsByID(ctx, ids)
}

func (m multiLog) ListEvents(ctx context.Context, qs []shipgraph.EventQuery) ([]shipgraph.Page[*shipgraph.DeploymentEvent], error) {
	return m.log(qs[0].DeploymentID).ListEvents(ctx, qs)
}
