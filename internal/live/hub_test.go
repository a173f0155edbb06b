package live_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/shipgraph/shipgraph/internal/live"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// publish commits events up to last on the log and publishes them.
func publish(t *testing.T, bus live.Bus, log *fakeLog, last int, status shipgraph.DeploymentStatus) {
	t.Helper()
	for _, e := range log.commit(last, status) {
		if err := bus.Publish(context.Background(), live.Update{Event: e}); err != nil {
			t.Fatal(err)
		}
	}
}

// receiveAll reads a whole stream: from+1 … last, then the end.
func receiveAll(events <-chan *shipgraph.DeploymentEvent, from, last int, timeout time.Duration) error {
	deadline := time.After(timeout)
	for want := from + 1; ; want++ {
		select {
		case e, ok := <-events:
			switch {
			case !ok && want == last+1:
				return nil
			case !ok:
				return errorf("the stream ended before sequence %d", want)
			case want > last:
				return errorf("sequence %d after the terminal one", e.Sequence)
			case e.Sequence != want:
				return errorf("got sequence %d, want %d", e.Sequence, want)
			}
		case <-deadline:
			return errorf("no sequence %d (or end) within %s", want, timeout)
		}
	}
}

var errorf = fmt.Errorf

// Many subscribers of one deployment share one bus subscription and one
// source; each gets every event once, in order, then the end, and the
// log is read once per subscriber (its replay) and once by the source, not
// once per subscriber per event or per tick.
func TestHubManySubscribersShareOneSource(t *testing.T) {
	t.Parallel()
	const subscribers, events = 500, 200
	bus := &live.Memory{}
	log := &fakeLog{deployment: &shipgraph.Deployment{ID: 7, Status: shipgraph.DeploymentInProgress}}
	log.commit(1, shipgraph.DeploymentQueued)
	hub := &live.Hub{Bus: bus, Log: log, Refill: time.Hour}
	streams := make([]<-chan *shipgraph.DeploymentEvent, subscribers)
	for i := range streams {
		var err error
		if streams[i], err = hub.Progress(t.Context(), 7, 0, nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := bus.Subscribers(); n != 1 {
		t.Fatalf("%d bus subscriptions for one deployment, want 1", n)
	}
	if n := hub.Sources(); n != 1 {
		t.Fatalf("%d sources, want 1", n)
	}
	// Everyone has replayed the first event before any live one.
	for _, s := range streams {
		receive(t, s, 1, 1, 5*time.Second)
	}
	var wg sync.WaitGroup
	errs := make(chan error, subscribers)
	for _, s := range streams {
		wg.Go(func() {
			if err := receiveAll(s, 1, events, 10*time.Second); err != nil {
				errs <- err
			}
		})
	}
	publish(t, bus, log, events, shipgraph.DeploymentSucceeded)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Replays, the source's head, and catch-ups of subscribers that fell
	// behind (those read the source's recent events, or the log). How many
	// fall behind depends on scheduling: under -race on a busy 2-core box
	// about one per subscriber (1,005 reads were seen). What this guards
	// against is a read per subscriber per event (here 100,000).
	if n := log.listCalls(); n > 10*subscribers {
		t.Errorf("the log was read %d times for %d subscribers", n, subscribers)
	}
	waitReleased(t, hub, bus)
}

// A subscriber that joins late, with or without afterSequence, gets what
// it has not seen and then the live events; one whose afterSequence is
// past the end waits and ends with the deployment.
func TestHubLateJoinerWithAfterSequence(t *testing.T) {
	t.Parallel()
	bus := &live.Memory{}
	log := &fakeLog{deployment: &shipgraph.Deployment{ID: 7, Status: shipgraph.DeploymentInProgress}}
	hub := &live.Hub{Bus: bus, Log: log, Refill: time.Hour}
	first, err := hub.Progress(t.Context(), 7, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, bus, log, 100, shipgraph.DeploymentInProgress)
	receive(t, first, 1, 100, 5*time.Second)

	cases := []struct {
		name  string
		after int
	}{{"from the start", 0}, {"from its recent events", 90}, {"from older events", 10}, {"at the head", 100}, {"past the end", 1000}}
	joined := make([]<-chan *shipgraph.DeploymentEvent, len(cases))
	for i, c := range cases {
		if joined[i], err = hub.Progress(t.Context(), 7, c.after, nil); err != nil {
			t.Fatal(err)
		}
	}
	publish(t, bus, log, 120, shipgraph.DeploymentSucceeded)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			last := 120
			if c.after > last {
				last = c.after // nothing to receive, then the end
			}
			if err := receiveAll(joined[i], c.after, last, 5*time.Second); err != nil {
				t.Fatal(err)
			}
		})
	}
	if err := receiveAll(first, 100, 120, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	waitReleased(t, hub, bus)

	// Once finished, a new subscriber replays and ends, with no source.
	log.mu.Lock()
	log.deployment.Status = shipgraph.DeploymentSucceeded
	log.mu.Unlock()
	late, err := hub.Progress(t.Context(), 7, 115, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := receiveAll(late, 115, 120, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

// A subscriber that reads nothing holds up neither the publisher nor the
// other subscribers; when it reads again it gets everything, in order,
// from the log.
func TestHubSlowSubscriberCatchesUpFromTheLog(t *testing.T) {
	t.Parallel()
	const events = 1000
	bus := &live.Memory{}
	log := &fakeLog{deployment: &shipgraph.Deployment{ID: 7, Status: shipgraph.DeploymentInProgress}}
	hub := &live.Hub{Bus: bus, Log: log, Refill: time.Hour, Buffer: 4, Recent: 8}
	slow, err := hub.Progress(t.Context(), 7, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := hub.Progress(t.Context(), 7, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The fast reader acknowledges each event before the next is
	// published, so that it never falls behind by chance.
	got := make(chan error, 1)
	ack := make(chan struct{})
	go func() {
		for want := 1; want <= events; want++ {
			select {
			case e := <-fast:
				if e == nil || e.Sequence != want {
					got <- errorf("fast reader: got %v, want sequence %d", e, want)
					return
				}
				ack <- struct{}{}
			case <-time.After(5 * time.Second):
				got <- errorf("fast reader: no sequence %d", want)
				return
			}
		}
		got <- nil
	}()
	var slowest time.Duration
	for seq := 1; seq <= events; seq++ {
		status := shipgraph.DeploymentInProgress
		if seq == events {
			status = shipgraph.DeploymentSucceeded
		}
		t0 := time.Now()
		publish(t, bus, log, seq, status)
		slowest = max(slowest, time.Since(t0))
		select {
		case <-ack:
		case err := <-got:
			t.Fatal(err)
		}
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if slowest > time.Second {
		t.Errorf("a Publish took %s", slowest)
	}
	if err := receiveAll(fast, events, events, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := receiveAll(slow, 0, events, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	waitReleased(t, hub, bus)
}

// When the bus drops updates (the source lagged), the source refills from
// the log once for all its subscribers, and each gets every event.
func TestHubRefillsOnceForAllWhenTheBusLags(t *testing.T) {
	t.Parallel()
	const subscribers = 50
	bus := &live.Memory{Buffer: 2}
	log := &fakeLog{deployment: &shipgraph.Deployment{ID: 7, Status: shipgraph.DeploymentInProgress}, newest: make(chan struct{}, 1)}
	log.commit(1, shipgraph.DeploymentQueued)
	// Buffers and recent events large enough that no subscriber reads the
	// log itself: the reads counted are the source's.
	hub := &live.Hub{Bus: bus, Log: log, Refill: time.Hour, Buffer: 512, Recent: 1000}
	streams := make([]<-chan *shipgraph.DeploymentEvent, subscribers)
	for i := range streams {
		var err error
		if streams[i], err = hub.Progress(t.Context(), 7, 0, nil); err != nil {
			t.Fatal(err)
		}
		receive(t, streams[i], 1, 1, 5*time.Second)
	}
	// The source has read where the log ends: published before that, the
	// 300 would be its start, and each subscriber would read them itself.
	<-log.newest
	before := log.listCalls()
	// 300 published at once: the source's bus subscription keeps 2.
	publish(t, bus, log, 300, shipgraph.DeploymentFailed)
	for _, s := range streams {
		if err := receiveAll(s, 1, 300, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	reads := log.listCalls() - before
	if reads == 0 {
		t.Fatal("nothing was refilled")
	}
	// A few pages of 100 and a lag or two, not one per subscriber.
	if reads >= subscribers {
		t.Errorf("%d log reads for one lagging source of %d subscribers", reads, subscribers)
	}
	t.Logf("%d log reads to refill 299 events for %d subscribers", reads, subscribers)
	waitReleased(t, hub, bus)
}

// Subscriptions that end (context cancelled) leave no goroutine, no
// source and no bus subscription behind. Not parallel: it counts the
// goroutines of the whole process.
func TestHubUnsubscribeLeavesNothing(t *testing.T) {
	bus := &live.Memory{}
	logs := make([]*fakeLog, 5)
	for i := range logs {
		logs[i] = &fakeLog{deployment: &shipgraph.Deployment{ID: int64(i + 1), Status: shipgraph.DeploymentInProgress}}
		logs[i].commit(3, shipgraph.DeploymentInProgress)
	}
	base := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(t.Context())
	var streams []<-chan *shipgraph.DeploymentEvent
	hubs := make([]*live.Hub, len(logs))
	for i, log := range logs {
		hubs[i] = &live.Hub{Bus: bus, Log: log, Refill: time.Hour}
		for range 200 {
			s, err := hubs[i].Progress(ctx, log.deployment.ID, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			streams = append(streams, s)
		}
	}
	for _, s := range streams {
		receive(t, s, 1, 3, 5*time.Second)
	}
	// Subscribers in the fan-out cost no goroutine: one per source.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base+len(logs)+5 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	peak := runtime.NumGoroutine()
	if peak > base+len(logs)+5 {
		t.Errorf("%d goroutines for %d idle subscriptions on %d deployments (baseline %d)", peak, len(streams), len(logs), base)
	}
	if n := bus.Subscribers(); n != len(logs) {
		t.Errorf("%d bus subscriptions, want one per deployment: %d", n, len(logs))
	}
	cancel()
	for _, s := range streams {
		select {
		case _, ok := <-s:
			if ok {
				t.Fatal("an event after the context ended")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a stream did not end with its context")
		}
	}
	for _, h := range hubs {
		waitReleased(t, h, bus)
	}
	deadline = time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("goroutines: %d before, %d with %d subscriptions, %d after", base, peak, len(streams), runtime.NumGoroutine())
	if n := runtime.NumGoroutine(); n > base {
		t.Errorf("%d goroutines left, %d before", n, base)
	}
}

// Subscribers join and leave at random while a deployment's events are
// published with some lost and some out of order, and some readers pause:
// every one that stays sees exactly the events after its afterSequence,
// in order, then the end.
func TestHubRandomJoinsLossAndReordering(t *testing.T) {
	t.Parallel()
	const events, subscribers = 400, 60
	bus := &live.Memory{Buffer: 8}
	log := &fakeLog{deployment: &shipgraph.Deployment{ID: 7, Status: shipgraph.DeploymentInProgress}}
	log.commit(1, shipgraph.DeploymentQueued)
	hub := &live.Hub{Bus: bus, Log: log, Refill: 200 * time.Millisecond, Buffer: 4, Recent: 16}
	rng := rand.New(rand.NewPCG(1, 2))

	var wg sync.WaitGroup
	errs := make(chan error, subscribers)
	join := func(after int, pause time.Duration, quitAt int) {
		ctx, cancel := context.WithCancel(t.Context())
		s, err := hub.Progress(ctx, 7, after, nil)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer cancel()
			for want := after + 1; ; want++ {
				if quitAt > 0 && want == quitAt {
					cancel()
					for range s { // drains what was buffered, then the end
					}
					return
				}
				if pause > 0 && want%50 == 0 {
					time.Sleep(pause)
				}
				select {
				case e, ok := <-s:
					switch {
					case !ok && want == events+1:
						return
					case !ok:
						errs <- errorf("after %d: ended before %d", after, want)
						return
					case e.Sequence != want:
						errs <- errorf("after %d: got %d, want %d", after, e.Sequence, want)
						return
					}
				case <-time.After(10 * time.Second):
					errs <- errorf("after %d: no sequence %d", after, want)
					return
				}
			}
		})
	}

	var held []*shipgraph.DeploymentEvent
	for seq := 2; seq <= events; seq++ {
		status := shipgraph.DeploymentInProgress
		if seq == events {
			status = shipgraph.DeploymentSucceeded
		}
		added := log.commit(seq, status)
		switch r := rng.IntN(10); {
		case r == 0: // lost
		case r == 1: // delayed behind the next one
			held = append(held, added...)
		default:
			for _, e := range append(added, held...) {
				bus.Publish(context.Background(), live.Update{Event: e})
			}
			held = nil
		}
		if seq%(events/subscribers) == 0 {
			after := rng.IntN(seq + 1)
			var pause time.Duration
			if rng.IntN(4) == 0 {
				pause = 20 * time.Millisecond
			}
			quitAt := 0
			if rng.IntN(6) == 0 {
				quitAt = seq + 1 + rng.IntN(events-seq)
			}
			join(after, pause, quitAt)
		}
		if seq%20 == 0 {
			time.Sleep(time.Millisecond) // let the readers run
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	waitReleased(t, hub, bus)
}

// waitReleased waits for the hub to drop its sources and their bus
// subscriptions once nobody subscribes.
func waitReleased(t *testing.T, hub *live.Hub, bus *live.Memory) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for hub.Sources() != 0 || hub.Subscribers() != 0 || bus.Subscribers() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sources, %d subscribers, %d bus subscriptions left", hub.Sources(), hub.Subscribers(), bus.Subscribers())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// notified is a reader that reads its stream only when notify tells it
// there is something, as wsprotocol's writer does.
type notified struct {
	tokens chan struct{}
	events <-chan *shipgraph.DeploymentEvent
}

// readAll reads 1…last and the end, one read per notification; a
// notification with nothing to read is an error.
func (n notified) readAll(last int) error {
	for want := 1; ; want++ {
		select {
		case <-n.tokens:
		case <-time.After(10 * time.Second):
			return errorf("no notification for sequence %d (or the end)", want)
		}
		select {
		case e, ok := <-n.events:
			switch {
			case !ok && want == last+1:
				return nil
			case !ok:
				return errorf("the stream ended before sequence %d", want)
			case e.Sequence != want:
				return errorf("got sequence %d, want %d", e.Sequence, want)
			}
		default:
			return errorf("notified, but nothing to read (sequence %d)", want)
		}
	}
}

// notify is called once after every event sent and once after the close,
// whether the event came from the fan-out or from a catch-up: a reader
// that reads only when notified gets everything and never blocks.
func TestHubNotifiesAfterEverySendAndTheClose(t *testing.T) {
	t.Parallel()
	const events = 100
	bus := &live.Memory{}
	log := &fakeLog{deployment: &shipgraph.Deployment{ID: 7, Status: shipgraph.DeploymentInProgress}}
	log.commit(1, shipgraph.DeploymentQueued)
	// Two slots: the slow reader overflows, and catches up.
	hub := &live.Hub{Bus: bus, Log: log, Refill: time.Hour, Buffer: 2}
	readers := make([]notified, 2)
	for i := range readers {
		tokens := make(chan struct{}, events+10)
		s, err := hub.Progress(t.Context(), 7, 0, func() { tokens <- struct{}{} })
		if err != nil {
			t.Fatal(err)
		}
		readers[i] = notified{tokens: tokens, events: s}
	}
	slow := make(chan struct{}) // the second reader starts once everything is published
	var wg sync.WaitGroup
	errs := make(chan error, len(readers))
	for i, r := range readers {
		wg.Go(func() {
			if i == 1 {
				<-slow
			}
			if err := r.readAll(events); err != nil {
				errs <- fmt.Errorf("reader %d: %w", i, err)
			}
		})
	}
	publish(t, bus, log, events, shipgraph.DeploymentSucceeded)
	close(slow)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, r := range readers {
		if n := len(r.tokens); n != 0 {
			t.Errorf("reader %d: %d notifications more than events and the end", i, n)
		}
	}
	waitReleased(t, hub, bus)
}
