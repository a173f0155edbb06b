package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"

	goredis "github.com/redis/go-redis/v9"

	"github.com/shipgraph/shipgraph/internal/live"
)

// Bus is a live.Bus across instances: every update is published on one
// Redis channel, and each instance fans what it receives out to its own
// subscribers through an in-process bus. Redis pub/sub keeps nothing: a
// message published while an instance reconnects is gone, so on every
// (re)subscription the local subscribers are told to refill from the log.
type Bus struct {
	client  *Client
	channel string
	local   *live.Memory
	log     *slog.Logger

	ps   *goredis.PubSub
	done chan struct{}
	once sync.Once
}

var _ live.Bus = (*Bus)(nil)

// NewBus subscribes to the updates channel and starts relaying; Close stops.
func (c *Client) NewBus(log *slog.Logger) *Bus {
	b := &Bus{client: c, channel: c.prefix + "deployment-updates", local: &live.Memory{}, log: log, done: make(chan struct{})}
	b.ps = c.rdb.Subscribe(context.Background(), b.channel)
	go b.relay(b.ps.ChannelWithSubscriptions())
	return b
}

// relay fans received updates out locally until Close closes the
// subscription, which closes msgs.
func (b *Bus) relay(msgs <-chan any) {
	defer close(b.done)
	ctx := context.Background()
	// go-redis reconnects and resubscribes by itself; every subscription
	// confirmation may follow a gap in which messages were lost.
	for msg := range msgs {
		switch m := msg.(type) {
		case *goredis.Subscription:
			b.local.LagAll()
		case *goredis.Message:
			var u live.Update
			if err := json.Unmarshal([]byte(m.Payload), &u); err != nil || u.Event == nil {
				b.log.Warn("redis bus: undecodable update", "error", err)
				continue
			}
			b.local.Publish(ctx, u)
		}
	}
}

// Publish implements live.Bus. A failure is returned, not retried: the
// update is in the log, and subscribers refill from it.
func (b *Bus) Publish(ctx context.Context, u live.Update) error {
	payload, err := json.Marshal(u)
	if err != nil {
		return fmt.Errorf("redis bus: %w", err)
	}
	if err := b.client.rdb.Publish(ctx, b.channel, payload).Err(); err != nil {
		return fmt.Errorf("redis bus: publish: %w", err)
	}
	return nil
}

// Subscribe implements live.Bus.
func (b *Bus) Subscribe(deploymentID int64) (*live.Subscription, func()) {
	return b.local.Subscribe(deploymentID)
}

// Close stops relaying and waits for the relay to end.
func (b *Bus) Close() {
	b.once.Do(func() {
		b.ps.Close()
		<-b.done
	})
}
