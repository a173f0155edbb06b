// Package live delivers deployment events as they happen: a Bus fans
// committed events out to subscribers (in process, or across instances
// through Redis), and a Hub turns the bus and the event log into the
// streams subscriptions see: replay after a sequence, then live events, in
// order, with no gap and no duplicate, ending after the terminal event,
// from one shared source per deployment.
//
// PostgreSQL is the source of truth. A message the bus loses (a slow
// subscriber, a Redis restart) is refilled from the log by sequence, so
// the bus only has to be fast, not reliable.
package live

import (
	"context"
	"sync"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// Update is one committed change of a deployment: the event and the
// deployment as it stood after it.
type Update struct {
	Event      *shipgraph.DeploymentEvent
	Deployment *shipgraph.Deployment
}

// Bus fans updates out. Publish never blocks on a subscriber; a subscriber
// that falls behind loses messages and is told so through its lagged
// channel, and refills from the log.
type Bus interface {
	// Publish sends u to the subscribers of its deployment and to those of
	// all deployments.
	Publish(ctx context.Context, u Update) error
	// Subscribe returns the updates of one deployment (deploymentID > 0) or
	// of all deployments (0), until cancel is called.
	Subscribe(deploymentID int64) (s *Subscription, cancel func())
}

// Subscription is what a subscriber receives.
type Subscription struct {
	// Updates carries the updates in the order they were published.
	Updates <-chan Update
	// Lagged receives a value when updates were dropped because Updates
	// was full; the subscriber must refill from the log.
	Lagged <-chan struct{}

	updates chan Update
	lagged  chan struct{}
}

func newSubscription(buffer int) *Subscription {
	s := &Subscription{updates: make(chan Update, buffer), lagged: make(chan struct{}, 1)}
	s.Updates, s.Lagged = s.updates, s.lagged
	return s
}

// offer delivers u without blocking, or flags the subscription as lagged.
func (s *Subscription) offer(u Update) {
	select {
	case s.updates <- u:
	default:
		select {
		case s.lagged <- struct{}{}:
		default:
		}
	}
}

// Memory is the in-process Bus: the whole bus of a single instance, and the
// local fan-out of the Redis bus.
type Memory struct {
	// Buffer is each subscription's queue length; 64 when zero.
	Buffer int

	mu   sync.Mutex
	subs map[int64]map[*Subscription]struct{}
}

var _ Bus = (*Memory)(nil)

// Publish implements Bus.
func (m *Memory) Publish(_ context.Context, u Update) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, key := range []int64{u.Event.DeploymentID, 0} {
		for s := range m.subs[key] {
			s.offer(u)
		}
	}
	return nil
}

// Subscribe implements Bus.
func (m *Memory) Subscribe(deploymentID int64) (*Subscription, func()) {
	buffer := m.Buffer
	if buffer <= 0 {
		buffer = 64
	}
	s := newSubscription(buffer)
	m.mu.Lock()
	if m.subs == nil {
		m.subs = map[int64]map[*Subscription]struct{}{}
	}
	if m.subs[deploymentID] == nil {
		m.subs[deploymentID] = map[*Subscription]struct{}{}
	}
	m.subs[deploymentID][s] = struct{}{}
	m.mu.Unlock()
	var once sync.Once
	return s, func() {
		once.Do(func() {
			m.mu.Lock()
			delete(m.subs[deploymentID], s)
			if len(m.subs[deploymentID]) == 0 {
				delete(m.subs, deploymentID)
			}
			m.mu.Unlock()
		})
	}
}

// LagAll flags every subscription as lagged, so that each refills from the
// log: what a transport that may have lost messages (Redis reconnecting)
// calls.
func (m *Memory) LagAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, set := range m.subs {
		for s := range set {
			select {
			case s.lagged <- struct{}{}:
			default:
			}
		}
	}
}

// Subscribers counts the open subscriptions, for metrics and leak tests.
func (m *Memory) Subscribers() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, set := range m.subs {
		n += len(set)
	}
	return n
}
