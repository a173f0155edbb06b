package live

import (
	"context"
	"sync"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// boardBuffer is each board subscriber's channel length: what it may fall
// behind by before changes are dropped for it.
const boardBuffer = 64

// boards is the hub's fan-out of deployment changes to deploymentUpdated
// subscribers: one bus subscription and one goroutine for all of them,
// while there are any.
type boards struct {
	mu     sync.Mutex
	subs   map[*board]struct{}
	cancel context.CancelFunc // ends the goroutine; nil when there is none
}

// board is one deploymentUpdated stream.
type board struct {
	keep   func(*shipgraph.Deployment) bool
	out    chan *shipgraph.Deployment
	notify func()
	closed bool
}

// Deployments streams the deployments that change and match keep, until
// ctx ends; a board re-reads what it missed when it reconnects. A
// subscriber more than 64 changes behind loses the newer ones, as the bus
// drops them for a lagging subscriber: boards show current state, and the
// next change of a deployment supersedes a lost one.
//
// notify, when not nil, is called after every change sent into the channel
// and after it is closed (see Progress). All subscribers share one bus
// subscription and one goroutine.
func (h *Hub) Deployments(ctx context.Context, keep func(*shipgraph.Deployment) bool, notify func()) <-chan *shipgraph.Deployment {
	b := &board{keep: keep, out: make(chan *shipgraph.Deployment, boardBuffer), notify: notify}
	h.boards.mu.Lock()
	if h.boards.subs == nil {
		h.boards.subs = map[*board]struct{}{}
	}
	h.boards.subs[b] = struct{}{}
	if h.boards.cancel == nil {
		bctx, cancel := context.WithCancel(context.Background())
		h.boards.cancel = cancel
		// Subscribed before Deployments returns: no change committed after
		// it is missed.
		sub, unsubscribe := h.Bus.Subscribe(0)
		go h.boards.run(bctx, sub, unsubscribe)
	}
	h.boards.mu.Unlock()
	context.AfterFunc(ctx, func() { h.boards.leave(b) })
	return b.out
}

// Boards counts the open deploymentUpdated streams, for tests.
func (h *Hub) Boards() int {
	h.boards.mu.Lock()
	defer h.boards.mu.Unlock()
	return len(h.boards.subs)
}

// run fans the bus's changes out until the last subscriber leaves.
func (bs *boards) run(ctx context.Context, sub *Subscription, unsubscribe func()) {
	defer unsubscribe()
	for {
		select {
		case <-ctx.Done():
			return
		case u := <-sub.Updates:
			if u.Deployment != nil {
				bs.fanOut(ctx, u.Deployment)
			}
		case <-sub.Lagged:
			// Dropped changes are superseded by the next ones.
		}
	}
}

// fanOut sends d to every subscriber it matches, without blocking; nothing
// once ctx, the goroutine's, has ended (a successor may serve the
// subscribers by then).
func (bs *boards) fanOut(ctx context.Context, d *shipgraph.Deployment) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	for b := range bs.subs {
		if !b.keep(d) {
			continue
		}
		select {
		case b.out <- d:
			if b.notify != nil {
				b.notify()
			}
		default: // too far behind: dropped for it
		}
	}
}

// leave ends a subscriber, and the goroutine with the last one.
func (bs *boards) leave(b *board) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	delete(bs.subs, b)
	close(b.out)
	if b.notify != nil {
		b.notify()
	}
	if len(bs.subs) == 0 && bs.cancel != nil {
		bs.cancel()
		bs.cancel = nil
	}
}
