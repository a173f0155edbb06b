package live_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shipgraph/shipgraph/internal/live"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

func event(deployment int64, seq int, status shipgraph.DeploymentStatus) *shipgraph.DeploymentEvent {
	return &shipgraph.DeploymentEvent{ID: int64(seq), DeploymentID: deployment, Sequence: seq, Status: status}
}

// A subscriber that never reads neither blocks the publisher nor delays the
// others: it loses what does not fit its buffer and is told so.
func TestSlowSubscriberBlocksNobody(t *testing.T) {
	const n = 10_000
	bus := &live.Memory{}
	slow, cancelSlow := bus.Subscribe(1) // never reads
	defer cancelSlow()
	fast, cancelFast := bus.Subscribe(1)
	defer cancelFast()
	board, cancelBoard := bus.Subscribe(0) // every deployment
	defer cancelBoard()

	// The readers report each update they get; the publisher waits for
	// both before the next one, so that a fast reader never lags by
	// chance, while the slow one falls behind for good after 64.
	got := make(chan int)
	read := func(s *live.Subscription) {
		for want := 1; want <= n; want++ {
			select {
			case u := <-s.Updates:
				if u.Event.Sequence != want {
					t.Errorf("got sequence %d, want %d", u.Event.Sequence, want)
					return
				}
				got <- want
			case <-s.Lagged:
				t.Errorf("a subscriber that keeps up lagged at %d", want)
				return
			case <-time.After(10 * time.Second):
				t.Errorf("nothing after %d", want-1)
				return
			}
		}
	}
	go read(fast)
	go read(board)

	var slowest time.Duration
	start := time.Now()
	for seq := 1; seq <= n; seq++ {
		t0 := time.Now()
		if err := bus.Publish(context.Background(), live.Update{Event: event(1, seq, shipgraph.DeploymentInProgress)}); err != nil {
			t.Fatal(err)
		}
		slowest = max(slowest, time.Since(t0))
		for range 2 {
			select {
			case <-got:
			case <-time.After(10 * time.Second):
				t.Fatalf("update %d did not reach a subscriber that reads", seq)
			}
		}
	}
	t.Logf("%d updates in %s, slowest Publish %s", n, time.Since(start), slowest)
	if slowest > time.Second {
		t.Errorf("a Publish took %s", slowest)
	}

	select {
	case <-slow.Lagged:
	default:
		t.Fatal("the slow subscriber was not told it lagged")
	}
	// It kept the first updates, in order, and no more than its buffer.
	for want := 1; ; want++ {
		select {
		case u := <-slow.Updates:
			if u.Event.Sequence != want {
				t.Fatalf("slow subscriber: sequence %d, want %d", u.Event.Sequence, want)
			}
			continue
		default:
		}
		if want-1 != 64 {
			t.Fatalf("the slow subscriber kept %d updates, want its buffer's 64", want-1)
		}
		break
	}
}

func TestSubscribersAreCountedAndCancelledOnce(t *testing.T) {
	t.Parallel()
	bus := &live.Memory{}
	_, a := bus.Subscribe(1)
	_, b := bus.Subscribe(1)
	_, c := bus.Subscribe(0)
	if n := bus.Subscribers(); n != 3 {
		t.Fatalf("%d subscribers, want 3", n)
	}
	a()
	a() // twice is once
	if n := bus.Subscribers(); n != 2 {
		t.Fatalf("%d subscribers, want 2", n)
	}
	b()
	c()
	if n := bus.Subscribers(); n != 0 {
		t.Fatalf("%d subscribers, want 0", n)
	}
	// Publishing to nobody is fine.
	if err := bus.Publish(context.Background(), live.Update{Event: event(1, 1, shipgraph.DeploymentQueued)}); err != nil {
		t.Fatal(err)
	}
}

// fakeLog is a deployment's event log in memory.
type fakeLog struct {
	mu         sync.Mutex
	deployment *shipgraph.Deployment
	events     []*shipgraph.DeploymentEvent
	lists      int
	// newest, when set, receives a value on every read of the newest
	// events (a hub source starting).
	newest chan struct{}
}

func (l *fakeLog) DeploymentsByID(_ context.Context, ids []int64) ([]*shipgraph.Deployment, error) {
	out := make([]*shipgraph.Deployment, len(ids))
	for i, id := range ids {
		if id == l.deployment.ID {
			d := *l.deployment
			out[i] = &d
		}
	}
	return out, nil
}

func (l *fakeLog) ListEvents(_ context.Context, qs []shipgraph.EventQuery) ([]shipgraph.Page[*shipgraph.DeploymentEvent], error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lists++
	out := make([]shipgraph.Page[*shipgraph.DeploymentEvent], len(qs))
	for i, q := range qs {
		after := 0
		c, err := q.Page.AfterCursor(q.Order())
		if err != nil {
			return nil, err
		}
		if c != nil {
			after, _ = strconv.Atoi(c.Value)
		}
		for _, e := range l.events {
			if e.DeploymentID != q.DeploymentID || e.Sequence <= after {
				continue
			}
			if len(out[i].Items) == q.Page.Limit() {
				out[i].HasNextPage = true
				break
			}
			out[i].Items = append(out[i].Items, e)
		}
		if q.Page.Backward() { // the newest ones: only last without before is used
			if l.newest != nil {
				select {
				case l.newest <- struct{}{}:
				default:
				}
			}
			out[i] = shipgraph.Page[*shipgraph.DeploymentEvent]{}
			for _, e := range l.events {
				if e.DeploymentID == q.DeploymentID {
					out[i].Items = append(out[i].Items, e)
				}
			}
			out[i].Items = out[i].Items[max(0, len(out[i].Items)-q.Page.Limit()):]
		}
	}
	return out, nil
}

// commit appends events up to sequence last (terminal when status is) and
// returns them.
func (l *fakeLog) commit(last int, status shipgraph.DeploymentStatus) []*shipgraph.DeploymentEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	var added []*shipgraph.DeploymentEvent
	for seq := len(l.events) + 1; seq <= last; seq++ {
		s := shipgraph.DeploymentInProgress
		if seq == last {
			s = status
		}
		e := event(l.deployment.ID, seq, s)
		l.events = append(l.events, e)
		added = append(added, e)
	}
	return added
}

func (l *fakeLog) listCalls() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lists
}

// receive reads the stream up to sequence last, checking there is no gap
// and no duplicate, within timeout.
func receive(t *testing.T, events <-chan *shipgraph.DeploymentEvent, from, last int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for want := from; want <= last; want++ {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatalf("the stream ended before sequence %d", want)
			}
			if e.Sequence != want {
				t.Fatalf("got sequence %d, want %d", e.Sequence, want)
			}
		case <-deadline:
			t.Fatalf("no sequence %d within %s", want, timeout)
		}
	}
}

// testRefill is the hubs' safety tick in these tests.
const testRefill = time.Second

func newProgress(t *testing.T, bus live.Bus, replayed int) (*fakeLog, <-chan *shipgraph.DeploymentEvent) {
	t.Helper()
	log := &fakeLog{deployment: &shipgraph.Deployment{ID: 7, Status: shipgraph.DeploymentInProgress}}
	log.commit(replayed, shipgraph.DeploymentInProgress)
	hub := &live.Hub{Bus: bus, Log: log, Refill: testRefill}
	events, err := hub.Progress(t.Context(), 7, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	receive(t, events, 1, replayed, 5*time.Second)
	return log, events
}

// A subscriber that fell behind the bus refills from the log: every event,
// in order, once.
func TestProgressRefillsAfterLagging(t *testing.T) {
	t.Parallel()
	bus := &live.Memory{Buffer: 4}
	log, events := newProgress(t, bus, 3)
	before := log.listCalls()
	// 250 events committed and published while the client reads nothing:
	// the bus keeps 4 of them and drops the rest.
	for _, e := range log.commit(250, shipgraph.DeploymentSucceeded) {
		bus.Publish(context.Background(), live.Update{Event: e})
	}
	receive(t, events, 4, 250, 5*time.Second)
	if _, ok := <-events; ok {
		t.Fatal("the stream goes on after the terminal event")
	}
	if log.listCalls() == before {
		t.Fatal("the log was not read: nothing was refilled")
	}
	waitUnsubscribed(t, bus)
}

// An event lost on the way (a gap in the sequences the bus delivers) is
// refilled from the log at once, not at the next periodic refill.
func TestProgressRefillsAGap(t *testing.T) {
	t.Parallel()
	bus := &live.Memory{}
	log, events := newProgress(t, bus, 3)
	added := log.commit(5, shipgraph.DeploymentInProgress)
	start := time.Now()
	bus.Publish(context.Background(), live.Update{Event: added[1]}) // 5; 4 was lost
	receive(t, events, 4, 5, testRefill/2)
	t.Logf("the gap was refilled in %s", time.Since(start))
	// Live again: the next one comes from the bus.
	added = log.commit(6, shipgraph.DeploymentFailed)
	bus.Publish(context.Background(), live.Update{Event: added[0]})
	receive(t, events, 6, 6, testRefill/2)
	if _, ok := <-events; ok {
		t.Fatal("the stream goes on after the terminal event")
	}
	waitUnsubscribed(t, bus)
}

// Even the last event, lost with nothing after it to reveal the gap, comes:
// the deployment's source reads the log on its safety tick.
func TestProgressRefillsALostLastEvent(t *testing.T) {
	t.Parallel()
	bus := &live.Memory{}
	log, events := newProgress(t, bus, 2)
	log.commit(3, shipgraph.DeploymentCancelled) // never published
	receive(t, events, 3, 3, testRefill*5/4+3*time.Second)
	if _, ok := <-events; ok {
		t.Fatal("the stream goes on after the terminal event")
	}
	waitUnsubscribed(t, bus)
}

// A stream whose context ends stops and leaves the bus.
func TestProgressStopsWithItsContext(t *testing.T) {
	t.Parallel()
	bus := &live.Memory{}
	ctx, cancel := context.WithCancel(t.Context())
	log := &fakeLog{deployment: &shipgraph.Deployment{ID: 7, Status: shipgraph.DeploymentQueued}}
	log.commit(1, shipgraph.DeploymentQueued)
	events, err := (&live.Hub{Bus: bus, Log: log}).Progress(ctx, 7, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	receive(t, events, 1, 1, 5*time.Second)
	if n := bus.Subscribers(); n != 1 {
		t.Fatalf("%d subscribers, want 1", n)
	}
	cancel()
	select {
	case _, ok := <-events:
		if ok {
			t.Fatal("an event after the context ended")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not end with its context")
	}
	waitUnsubscribed(t, bus)
}

// waitUnsubscribed waits for the streams to leave the bus (their goroutine
// unsubscribes as it returns, just after closing the channel).
func waitUnsubscribed(t *testing.T, bus *live.Memory) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for bus.Subscribers() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscribers left on the bus", bus.Subscribers())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
