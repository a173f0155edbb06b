package live

import (
	"context"
	"math"
	"strconv"
	"time"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// EventLog is what Progress reads to replay and to refill.
type EventLog interface {
	ListEvents(ctx context.Context, qs []shipgraph.EventQuery) ([]shipgraph.Page[*shipgraph.DeploymentEvent], error)
	DeploymentsByID(ctx context.Context, ids []int64) ([]*shipgraph.Deployment, error)
}

// Refill is how often a quiet stream checks the log anyway, so that an
// event lost in transit, even the last one, is delivered late, not never.
const Refill = 2 * time.Second

// Progress streams the events of a deployment after afterSequence: first
// the stored ones, then live ones, in sequence order with no gap and no
// duplicate, closing the channel after the terminal event (or at once for
// a deployment that has finished and been replayed). It subscribes before
// it replays, so nothing committed in between is missed, and drops what it
// already sent. The channel closes, too, when ctx ends; Progress owns the
// goroutine it starts and stops it then.
func Progress(ctx context.Context, bus Bus, log EventLog, deploymentID int64, afterSequence int) (<-chan *shipgraph.DeploymentEvent, error) {
	ds, err := log.DeploymentsByID(ctx, []int64{deploymentID})
	if err != nil {
		return nil, err
	}
	if ds[0] == nil {
		return nil, shipgraph.Errorf(shipgraph.CodeNotFound, "deployment not found")
	}
	sub, cancel := bus.Subscribe(deploymentID)
	out := make(chan *shipgraph.DeploymentEvent)
	go func() {
		defer close(out)
		defer cancel()
		s := stream{ctx: ctx, log: log, id: deploymentID, last: afterSequence, out: out}
		if !s.refill() {
			return
		}
		if ds[0].Status.Finished() {
			// Finished before we looked: the replay was all there is, even
			// when afterSequence was past its end.
			return
		}
		tick := time.NewTicker(Refill)
		defer tick.Stop()
		for !s.done {
			select {
			case <-ctx.Done():
				return
			case u := <-sub.Updates:
				switch {
				case u.Event.Sequence <= s.last: // already sent
				case u.Event.Sequence == s.last+1:
					if !s.send(u.Event) {
						return
					}
				default: // a gap: something was lost on the way
					if !s.refill() {
						return
					}
				}
			case <-sub.Lagged:
				if !s.refill() {
					return
				}
			case <-tick.C:
				if !s.refill() {
					return
				}
			}
		}
	}()
	return out, nil
}

// stream is the state of one Progress goroutine.
type stream struct {
	ctx  context.Context
	log  EventLog
	id   int64
	last int
	done bool
	out  chan<- *shipgraph.DeploymentEvent
}

// send delivers e, remembering where the stream is and whether it ended.
func (s *stream) send(e *shipgraph.DeploymentEvent) bool {
	select {
	case s.out <- e:
	case <-s.ctx.Done():
		return false
	}
	s.last = e.Sequence
	if e.Stage == nil && e.Status.Finished() {
		s.done = true
	}
	return true
}

// refill sends every stored event after the last one sent.
func (s *stream) refill() bool {
	for !s.done {
		pages, err := s.log.ListEvents(s.ctx, []shipgraph.EventQuery{{
			DeploymentID: s.id,
			Page:         shipgraph.PageArgs{First: shipgraph.MaxPageSize, After: afterCursor(s.last)},
		}})
		if err != nil {
			return false // the context ended, or the database is gone: the client reconnects
		}
		for _, e := range pages[0].Items {
			if e.Sequence != s.last+1 {
				continue
			}
			if !s.send(e) {
				return false
			}
		}
		if !pages[0].HasNextPage {
			return true
		}
	}
	return true
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
