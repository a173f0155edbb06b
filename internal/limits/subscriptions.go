package limits

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// Limits of long-lived clients. A subscription holds a goroutine (gqlgen's)
// and a buffer in the live hub; a WebSocket connection, buffers: a client
// that opens them without end would exhaust the instance.
const (
	LimitSubscriptions = "subscriptionsPerConnection"
	LimitConnections   = "connectionsPerUser"
)

type connKey struct{}

// connection is the state of one WebSocket connection.
type connection struct {
	subscriptions atomic.Int64
}

// WithConnection marks ctx as a WebSocket connection's, so that the
// subscriptions started on it are counted together. The WebSocket
// transport's init function calls it.
func WithConnection(ctx context.Context) context.Context {
	return context.WithValue(ctx, connKey{}, &connection{})
}

// Subscriptions is a gqlgen extension that caps the subscriptions running at
// once on one connection.
type Subscriptions struct {
	Max int
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = Subscriptions{}

// ExtensionName implements graphql.HandlerExtension.
func (Subscriptions) ExtensionName() string { return "SubscriptionLimit" }

// Validate implements graphql.HandlerExtension.
func (Subscriptions) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation refuses a subscription beyond the cap and releases a
// slot when a subscription ends (its responses run out or its context ends).
func (s Subscriptions) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	op := graphql.GetOperationContext(ctx)
	conn, _ := ctx.Value(connKey{}).(*connection)
	if conn == nil || op.Operation == nil || op.Operation.Operation != ast.Subscription {
		return next(ctx)
	}
	if n := conn.subscriptions.Add(1); n > int64(s.Max) {
		conn.subscriptions.Add(-1)
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{limitError(LimitSubscriptions, s.Max, n,
			"a connection may run at most %d subscriptions at once", s.Max)}})
	}
	var once sync.Once
	release := func() { once.Do(func() { conn.subscriptions.Add(-1) }) }
	context.AfterFunc(ctx, release)
	respond := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		resp := respond(ctx)
		if resp == nil {
			release()
		}
		return resp
	}
}

// Connections counts each user's open WebSocket connections on this
// instance. (Per instance: a user spread over N instances may hold N times
// the cap; the rate limit still bounds what they can do with them.)
type Connections struct {
	Max int

	mu    sync.Mutex
	count map[string]int
}

// Acquire takes a connection slot for user, or reports that the user is at
// the cap; release gives the slot back when the connection closes.
func (c *Connections) Acquire(user string) (release func(), err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.count == nil {
		c.count = map[string]int{}
	}
	if c.count[user] >= c.Max {
		return nil, shipgraph.Errorf(shipgraph.CodeRateLimited, "at most %d WebSocket connections per user", c.Max)
	}
	c.count[user]++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.count[user]--; c.count[user] == 0 {
				delete(c.count, user)
			}
		})
	}, nil
}
