package redis_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/shipgraph/shipgraph/internal/live"
	"github.com/shipgraph/shipgraph/internal/redis"
	"github.com/shipgraph/shipgraph/internal/redistest"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

func newBus(t *testing.T, url, prefix string) *redis.Bus {
	t.Helper()
	b := open(t, url, prefix).NewBus(slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(b.Close)
	return b
}

func waitUpdate(t *testing.T, s *live.Subscription) live.Update {
	t.Helper()
	select {
	case u := <-s.Updates:
		return u
	case <-time.After(5 * time.Second):
		t.Fatal("no update within 5 s")
	}
	return live.Update{}
}

func TestBusCarriesUpdatesAcrossInstances(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	a, b := newBus(t, url, prefix), newBus(t, url, prefix)
	one, stopOne := b.Subscribe(7)
	defer stopOne()
	all, stopAll := b.Subscribe(0)
	defer stopAll()
	// A subscription is live once Redis confirms it; publish until the
	// first update gets through.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := a.Publish(t.Context(), live.Update{Event: &shipgraph.DeploymentEvent{DeploymentID: 7, Sequence: 1}, Deployment: &shipgraph.Deployment{ID: 7, Environment: "qa"}}); err != nil {
			t.Fatal(err)
		}
		select {
		case u := <-one.Updates:
			if u.Event.Sequence != 1 || u.Deployment.Environment != "qa" {
				t.Fatalf("got %+v", u)
			}
			if u := waitUpdate(t, all); u.Event.DeploymentID != 7 {
				t.Fatalf("all-deployments subscriber got %+v", u)
			}
			return
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing crossed the bus")
		}
	}
}

func TestBusTellsSubscribersToRefillAfterAReconnect(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	prefix := redistest.Prefix(t, url)
	b := newBus(t, url, prefix)
	sub, stop := b.Subscribe(9)
	defer stop()
	// The first subscription confirmation flags it too, if it comes after
	// Subscribe; let it pass.
	select {
	case <-sub.Lagged:
	case <-time.After(time.Second):
	}
	// Kill the bus's pub/sub connection, as a Redis restart would.
	opt, _ := goredis.ParseURL(url)
	admin := goredis.NewClient(opt)
	defer admin.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := admin.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-sub.Lagged:
	case <-ctx.Done():
		t.Fatal("no refill signal after the connection was killed")
	}
}
