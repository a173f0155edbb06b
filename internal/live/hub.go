package live

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// EventLog is what the Hub reads to replay and to refill.
type EventLog interface {
	ListEvents(ctx context.Context, qs []shipgraph.EventQuery) ([]shipgraph.Page[*shipgraph.DeploymentEvent], error)
	DeploymentsByID(ctx context.Context, ids []int64) ([]*shipgraph.Deployment, error)
}

// Refill is the default safety tick of a Hub: how often a deployment with
// subscribers checks the log anyway, so that an event lost in transit, even
// the last one, is delivered late, not never. It is one read per watched
// deployment, not per subscriber, and jittered so that deployments watched
// since the same instant do not read together.
const Refill = 5 * time.Second

// Hub streams deployment events to the subscriptions of one instance from
// one shared source per deployment: a single bus subscription, a single
// reader of the log when the bus lost something, and a fan-out to every
// subscriber in sequence order. Each subscriber replays the log after its
// own afterSequence and then joins the fan-out; one that cannot keep up
// (its buffer is full) leaves the fan-out and catches up from the source's
// recent events or the log, without holding up the others or the
// publisher, then joins again.
//
// A subscriber that is in the fan-out costs no goroutine: the source sends
// into the channel the GraphQL transport reads. A goroutine exists only
// while a subscriber replays or catches up.
//
// Set the fields before the first Progress or Deployments; the zero values
// are defaults.
type Hub struct {
	Bus Bus
	Log EventLog
	// Refill is the mean of the jittered safety tick; Refill when zero.
	Refill time.Duration
	// Buffer is each subscriber's channel length; 16 when zero.
	Buffer int
	// Recent is how many of a deployment's latest events its source keeps
	// for subscribers that catch up; 64 when zero.
	Recent int

	mu      sync.Mutex
	sources map[int64]*source

	boards boards // deploymentUpdated's fan-out
}

// source is the shared state of one watched deployment. Everything but
// ctx and cancel is guarded by Hub.mu.
type source struct {
	id     int64
	ctx    context.Context // ends when the last subscriber leaves
	cancel context.CancelFunc
	subs   map[*subscriber]struct{}
	// head is the highest sequence fanned out: every event up to it has
	// gone to the subscribers in the fan-out, in order.
	head     int
	ready    bool          // head is known
	readyC   chan struct{} // closed when ready
	finished bool          // the terminal event was fanned out
	recent   []*shipgraph.DeploymentEvent
}

// subscriber is one deploymentProgress stream.
type subscriber struct {
	id  int64 // the deployment
	ctx context.Context
	out chan *shipgraph.DeploymentEvent
	// last is the sequence last sent into out. Its writer is the source
	// while live, the subscriber's catch-up goroutine otherwise.
	last int
	// live: the source sends into out; otherwise a catch-up goroutine
	// does. Exactly one of them owns out at any time.
	live bool
	// closed: the subscriber left its source; out is closed by its owner.
	closed bool
	stop   func() bool // unregisters the context.AfterFunc
	// notify, when set, is called after each send into out and after out
	// is closed, by whoever did it (see Progress).
	notify func()
}

// sent tells the subscriber's reader that out holds one more value, or
// was closed.
func (sub *subscriber) sent() {
	if sub.notify != nil {
		sub.notify()
	}
}

// Progress streams the events of a deployment after afterSequence: first
// the stored ones, then live ones, in sequence order with no gap and no
// duplicate, closing the channel after the terminal event (or once the
// replay is done for a deployment that had already finished). The channel
// closes, too, when ctx ends.
//
// notify, when not nil, is called after every event sent into the channel
// and after it is closed, so that a reader may read only when told to (see
// wsprotocol.Stream). It must not block: the hub may hold its lock.
func (h *Hub) Progress(ctx context.Context, deploymentID int64, afterSequence int, notify func()) (<-chan *shipgraph.DeploymentEvent, error) {
	ds, err := h.Log.DeploymentsByID(ctx, []int64{deploymentID})
	if err != nil {
		return nil, err
	}
	if ds[0] == nil {
		return nil, shipgraph.Errorf(shipgraph.CodeNotFound, "deployment not found")
	}
	sub := &subscriber{id: deploymentID, ctx: ctx, out: make(chan *shipgraph.DeploymentEvent, h.buffer()), last: afterSequence, notify: notify}
	if ds[0].Status.Finished() {
		// Finished before we looked: the replay is all there is, even
		// when afterSequence is past its end; no source needed.
		sub.stop = func() bool { return false }
		go h.catchUp(nil, sub)
		return sub.out, nil
	}
	h.mu.Lock()
	if h.sources == nil {
		h.sources = map[int64]*source{}
	}
	src := h.sources[deploymentID]
	if src == nil {
		src = h.open(deploymentID)
	}
	src.subs[sub] = struct{}{}
	// The AfterFunc is registered under the lock: nothing can read
	// sub.stop before it is set.
	sub.stop = context.AfterFunc(ctx, func() { h.leave(src, sub) })
	h.mu.Unlock()
	go h.catchUp(src, sub)
	return sub.out, nil
}

// Sources counts the deployments watched, for tests.
func (h *Hub) Sources() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sources)
}

// Subscribers counts the open streams that have a source.
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, src := range h.sources {
		n += len(src.subs)
	}
	return n
}

func (h *Hub) buffer() int {
	if h.Buffer > 0 {
		return h.Buffer
	}
	return 16
}

func (h *Hub) recentMax() int {
	if h.Recent > 0 {
		return h.Recent
	}
	return 64
}

// tick is the next safety refill delay: Refill ± 25%.
func (h *Hub) tick() time.Duration {
	r := h.Refill
	if r <= 0 {
		r = Refill
	}
	return time.Duration(float64(r) * (0.75 + rand.Float64()/2))
}

// open creates the source of a deployment, subscribed to the bus before
// anything reads the log so that nothing committed in between is missed,
// and starts its goroutine. h.mu is held.
func (h *Hub) open(id int64) *source {
	ctx, cancel := context.WithCancel(context.Background())
	src := &source{id: id, ctx: ctx, cancel: cancel, subs: map[*subscriber]struct{}{}, readyC: make(chan struct{})}
	bsub, unsubscribe := h.Bus.Subscribe(id)
	h.sources[id] = src
	go h.run(src, bsub, unsubscribe)
	return src
}

// run is the source's goroutine: it learns where the log ends, then fans
// out what the bus brings, refilling from the log on a gap, on lag and on
// the safety tick, until the last subscriber leaves.
func (h *Hub) run(src *source, bsub *Subscription, unsubscribe func()) {
	defer unsubscribe()
	for !h.start(src) {
		select {
		case <-src.ctx.Done():
			return
		case <-time.After(time.Second): // the database is away; try again
		}
	}
	tick := time.NewTimer(h.tick())
	defer tick.Stop()
	for {
		select {
		case <-src.ctx.Done():
			return
		case u := <-bsub.Updates:
			if !h.deliver(src, u.Event) {
				h.refill(src) // a gap: something was lost on the way
			}
		case <-bsub.Lagged:
			h.refill(src)
		case <-tick.C:
			h.refill(src)
			tick.Reset(h.tick())
		}
	}
}

// start reads the newest event of the log as the source's head.
func (h *Hub) start(src *source) bool {
	pages, err := h.Log.ListEvents(src.ctx, []shipgraph.EventQuery{{DeploymentID: src.id, Page: shipgraph.PageArgs{Last: 1}}})
	if err != nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if items := pages[0].Items; len(items) > 0 {
		e := items[len(items)-1]
		src.head = e.Sequence
		src.recent = append(src.recent, e)
		src.finished = terminal(e)
	}
	src.ready = true
	close(src.readyC)
	return true
}

// deliver fans e out if it is the next event; it reports false on a gap.
func (h *Hub) deliver(src *source, e *shipgraph.DeploymentEvent) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case e.Sequence <= src.head: // already fanned out
		return true
	case e.Sequence > src.head+1:
		return false
	}
	h.fanOut(src, e)
	return true
}

// refill fans out every stored event after the head. A failed read is
// left to the next gap, lag or tick.
func (h *Hub) refill(src *source) {
	for {
		h.mu.Lock()
		head, finished := src.head, src.finished
		h.mu.Unlock()
		if finished {
			return
		}
		pages, err := h.Log.ListEvents(src.ctx, []shipgraph.EventQuery{{
			DeploymentID: src.id,
			Page:         shipgraph.PageArgs{First: shipgraph.MaxPageSize, After: afterCursor(head)},
		}})
		if err != nil {
			return
		}
		h.mu.Lock()
		for _, e := range pages[0].Items {
			if e.Sequence == src.head+1 {
				h.fanOut(src, e)
			}
		}
		h.mu.Unlock()
		if !pages[0].HasNextPage {
			return
		}
	}
}

// fanOut sends e, the event after the head, to every subscriber in the
// fan-out without blocking; a subscriber whose buffer is full leaves the
// fan-out to catch up on its own. h.mu is held.
func (h *Hub) fanOut(src *source, e *shipgraph.DeploymentEvent) {
	src.head = e.Sequence
	src.recent = append(src.recent, e)
	if n := h.recentMax(); len(src.recent) > n {
		src.recent = src.recent[len(src.recent)-n:]
	}
	end := terminal(e)
	src.finished = end
	for sub := range src.subs {
		if !sub.live {
			continue
		}
		switch {
		case sub.last >= e.Sequence:
			// Its afterSequence was ahead of the log: nothing to send,
			// but a stream past the end ends with the deployment.
			if end {
				h.closeLive(src, sub)
			}
			continue
		case sub.last+1 < e.Sequence: // cannot happen: it joined at the head
			sub.live = false
			go h.catchUp(src, sub)
			continue
		}
		select {
		case sub.out <- e:
			sub.last = e.Sequence
			sub.sent()
			if end {
				h.closeLive(src, sub)
			}
		default:
			sub.live = false
			go h.catchUp(src, sub)
		}
	}
}

// closeLive ends a subscriber of the fan-out. h.mu is held.
func (h *Hub) closeLive(src *source, sub *subscriber) {
	sub.live, sub.closed = false, true
	close(sub.out)
	sub.sent()
	sub.stop()
	h.detach(src, sub)
}

// leave runs when a subscriber's context ends.
func (h *Hub) leave(src *source, sub *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if sub.closed {
		return
	}
	sub.closed = true
	if sub.live {
		sub.live = false
		close(sub.out)
		sub.sent()
	} // else its catch-up goroutine owns out and closes it
	h.detach(src, sub)
}

// detach removes sub from its source, and the source from the hub when it
// was the last: its goroutine ends and leaves the bus. h.mu is held.
func (h *Hub) detach(src *source, sub *subscriber) {
	delete(src.subs, sub)
	if len(src.subs) == 0 && h.sources[src.id] == src {
		delete(h.sources, src.id)
		src.cancel()
	}
}

// catchUp is the goroutine of a subscriber outside the fan-out: it sends
// what the subscriber has not had yet, from the source's recent events or
// else from the log, blocking as long as the client takes, then hands the
// subscriber to the fan-out once it is at the head. With no source (a
// finished deployment) it replays the log and closes.
func (h *Hub) catchUp(src *source, sub *subscriber) {
	for {
		var batch []*shipgraph.DeploymentEvent
		if src != nil {
			h.mu.Lock()
			if sub.closed { // its context ended
				h.mu.Unlock()
				close(sub.out)
				sub.sent()
				return
			}
			if src.ready && sub.last >= src.head {
				if src.finished { // it has had everything, or is past the end
					h.mu.Unlock()
					h.finish(src, sub)
					return
				}
				sub.live = true
				h.mu.Unlock()
				return
			}
			if src.ready {
				batch = src.after(sub.last)
			}
			h.mu.Unlock()
		}
		if batch == nil {
			pages, err := h.Log.ListEvents(sub.ctx, []shipgraph.EventQuery{{
				DeploymentID: sub.id,
				Page:         shipgraph.PageArgs{First: shipgraph.MaxPageSize, After: afterCursor(sub.last)},
			}})
			if err != nil { // the context ended, or the database is gone: the client reconnects
				h.finish(src, sub)
				return
			}
			batch = pages[0].Items
		}
		if len(batch) == 0 {
			if src == nil { // replayed a finished deployment
				h.finish(src, sub)
				return
			}
			// The log has nothing newer: wait for the source to know its
			// head, then join it.
			select {
			case <-src.readyC:
			case <-sub.ctx.Done():
				h.finish(src, sub)
				return
			}
			h.mu.Lock()
			behind := sub.last < src.head
			h.mu.Unlock()
			if behind {
				// The head is past what the log showed a moment ago: read
				// again, after a pause rather than in a spin.
				select {
				case <-time.After(50 * time.Millisecond):
				case <-sub.ctx.Done():
					h.finish(src, sub)
					return
				}
			}
			continue
		}
		for _, e := range batch {
			if e.Sequence != sub.last+1 {
				continue
			}
			select {
			case sub.out <- e:
			case <-sub.ctx.Done():
				h.finish(src, sub)
				return
			}
			sub.sent()
			sub.last = e.Sequence
			if terminal(e) {
				h.finish(src, sub)
				return
			}
		}
	}
}

// finish ends a subscriber from its catch-up goroutine, which owns out.
func (h *Hub) finish(src *source, sub *subscriber) {
	if src != nil {
		h.mu.Lock()
		if !sub.closed {
			sub.closed = true
			h.detach(src, sub)
		}
		h.mu.Unlock()
	}
	close(sub.out)
	sub.sent()
	sub.stop()
}

// after returns the recent events after sequence last, or nil when they
// do not reach back that far. h.mu is held.
func (src *source) after(last int) []*shipgraph.DeploymentEvent {
	if len(src.recent) == 0 || src.recent[0].Sequence > last+1 {
		return nil
	}
	var out []*shipgraph.DeploymentEvent
	for _, e := range src.recent {
		if e.Sequence > last {
			out = append(out, e)
		}
	}
	return out
}

// terminal tells whether e ends its deployment's stream.
func terminal(e *shipgraph.DeploymentEvent) bool {
	return e.Stage == nil && e.Status.Finished()
}

// afterCursor is the cursor of the position after sequence n in a
// deployment's log; ids do not matter to it, sequences are unique.
func afterCursor(n int) string {
	if n <= 0 {
		return ""
	}
	// (sequence, id) > (n, max id) is sequence > n.
	return shipgraph.Cursor{Field: shipgraph.OrderSequence, Value: strconv.Itoa(n), ID: math.MaxInt64}.Encode()
}
