package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/shipgraph/shipgraph/internal/live"
	"github.com/shipgraph/shipgraph/internal/postgres"
)

// dialRaw connects with protocol and sends nothing.
func (s *testServer) dialRaw(t *testing.T, protocol string) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{protocol}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	if conn.Subprotocol() != protocol {
		t.Fatalf("negotiated %q, want %q", conn.Subprotocol(), protocol)
	}
	return &wsClient{t: t, conn: conn, ctx: ctx}
}

// ackedClient is a graphql-transport-ws connection the server has acknowledged.
func (s *testServer) ackedClient(t *testing.T) *wsClient {
	t.Helper()
	c := s.dialWS(t, "graphql-transport-ws", map[string]any{"Authorization": "Bearer " + adminToken()})
	c.expect("connection_ack")
	return c
}

// sendRaw sends text as one message, as it is.
func (c *wsClient) sendRaw(text string) {
	c.t.Helper()
	if err := c.conn.Write(c.ctx, websocket.MessageText, []byte(text)); err != nil {
		c.t.Fatal(err)
	}
}

// read returns the next message, keep-alives included.
func (c *wsClient) read() (wsMessage, error) {
	var m wsMessage
	_, data, err := c.conn.Read(c.ctx)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		c.t.Fatalf("the server sent %q: %v", data, err)
	}
	return m, nil
}

// closed reads until the server closes the connection and returns its close
// code and reason; messages before it are returned too.
func (c *wsClient) closed() (code websocket.StatusCode, reason string, before []wsMessage) {
	c.t.Helper()
	for {
		m, err := c.read()
		if err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, ce.Reason, before
			}
			if c.ctx.Err() != nil {
				c.t.Fatalf("the server did not close the connection: %v (messages %v)", err, before)
			}
			return -1, err.Error(), before
		}
		before = append(before, m)
	}
}

// The tests of this file are not parallel at the top level: they run (their
// subtests in parallel) before the package's parallel tests start, so they
// neither delay those (TestSubscriptionEndsWhenItsTokenExpires has 5 s of
// token validity to run its subtests in) nor get counted by the goroutine
// count of TestDroppedSubscriptionsLeaveNothingBehind.

// The close codes of graphql-transport-ws
// (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md), sent
// by a real client. What gqlgen v0.17.98 did by itself is noted with each.
func TestGraphQLTransportWSCloseCodes(t *testing.T) {
	s := startServer(t, map[string]string{"SHIPGRAPH_WS_INIT_TIMEOUT": "300ms"})
	id := s.queuedDeployment(t)
	init := `{"type":"connection_init","payload":{"Authorization":"Bearer ` + adminToken() + `"}}`

	cases := []struct {
		name   string
		send   func(c *wsClient) // on a fresh connection, nothing sent yet
		code   websocket.StatusCode
		reason string
	}{
		{"unparseable JSON before init", func(c *wsClient) { c.sendRaw(`{"type":`) }, 4400, "Invalid message received"},
		{"unparseable JSON after ack", func(c *wsClient) { c.sendRaw(init); c.expect("connection_ack"); c.sendRaw(`not json`) }, 4400, "Invalid message received"},
		{"unknown message type", func(c *wsClient) { c.sendRaw(init); c.expect("connection_ack"); c.sendRaw(`{"type":"hello"}`) }, 4400, "Invalid message received"},
		{"a server's message type from the client", func(c *wsClient) {
			c.sendRaw(init)
			c.expect("connection_ack")
			c.sendRaw(`{"type":"next","id":"1","payload":{}}`)
		}, 4400, "Invalid message received"},
		{"connection_init payload not an object", func(c *wsClient) { c.sendRaw(`{"type":"connection_init","payload":"token"}`) }, 4400, "Invalid message received"},
		{"subscribe without an id", func(c *wsClient) {
			c.sendRaw(init)
			c.expect("connection_ack")
			c.sendRaw(`{"type":"subscribe","payload":{"query":"{ __typename }"}}`)
		}, 4400, "Invalid message received"},
		{"subscribe payload not an operation", func(c *wsClient) {
			c.sendRaw(init)
			c.expect("connection_ack")
			c.sendRaw(`{"type":"subscribe","id":"1","payload":{"query":42}}`)
		}, 4400, "Invalid message received"},
		{"subscribe without a payload", func(c *wsClient) {
			c.sendRaw(init)
			c.expect("connection_ack")
			c.sendRaw(`{"type":"subscribe","id":"1","payload":null}`)
		}, 4400, "Invalid message received"},
		{"subscribe before connection_init", func(c *wsClient) { c.subscribe("1", id) }, 4401, "Unauthorized"},
		{"no connection_init in time", func(c *wsClient) {}, 4408, "Connection initialisation timeout"},
		{"only pings, no connection_init in time", func(c *wsClient) {
			c.sendRaw(`{"type":"ping"}`)
			if m, err := c.read(); err != nil || m.Type != "pong" {
				c.t.Fatalf("got %+v %v, want pong", m, err)
			}
		}, 4408, "Connection initialisation timeout"},
		{"duplicate subscription id", func(c *wsClient) {
			c.sendRaw(init)
			c.expect("connection_ack")
			c.subscribe("dup", id)
			c.expect("next")
			c.subscribe("dup", id)
		}, 4409, "Subscriber for dup already exists"},
		{"second connection_init", func(c *wsClient) { c.sendRaw(init); c.expect("connection_ack"); c.sendRaw(init) }, 4429, "Too many initialisation requests"},
		{"second connection_init before the ack is read", func(c *wsClient) { c.sendRaw(init); c.sendRaw(init) }, 4429, "Too many initialisation requests"},
		{"refused connection_init", func(c *wsClient) { c.sendRaw(`{"type":"connection_init","payload":{}}`) }, 4403, "Forbidden"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := s.dialRaw(t, "graphql-transport-ws")
			start := time.Now()
			tc.send(c)
			code, reason, _ := c.closed()
			if code != tc.code || reason != tc.reason {
				t.Fatalf("closed with %d %q, want %d %q", code, reason, tc.code, tc.reason)
			}
			if tc.code == 4408 && time.Since(start) > 5*time.Second {
				t.Fatalf("closed after %s; SHIPGRAPH_WS_INIT_TIMEOUT is 300ms", time.Since(start))
			}
		})
	}
}

// What the protocol allows, the server accepts: pings before init, an id
// used again once its operation is over, a complete for an unknown id.
func TestGraphQLTransportWSAcceptsWhatTheProtocolAllows(t *testing.T) {
	s := startServer(t, nil)
	id := s.queuedDeployment(t)

	t.Run("ping before connection_init is answered", func(t *testing.T) {
		t.Parallel()
		c := s.dialRaw(t, "graphql-transport-ws")
		c.sendRaw(`{"type":"ping","payload":{"n":1}}`)
		if m, err := c.read(); err != nil || m.Type != "pong" || string(m.Payload) != `{"n":1}` {
			t.Fatalf("got %+v %v, want the pong of the ping", m, err)
		}
		c.sendRaw(`{"type":"pong"}`) // unsolicited: ignored
		c.sendRaw(`{"type":"connection_init","payload":{"Authorization":"Bearer ` + adminToken() + `"}}`)
		c.expect("connection_ack")
	})

	t.Run("an id is free again once the client completed it", func(t *testing.T) {
		t.Parallel()
		c := s.ackedClient(t)
		c.subscribe("same", id)
		c.expect("next")
		c.send(wsMessage{ID: "same", Type: "complete"})
		// At once, without waiting for anything from the server.
		c.subscribe("same", id)
		m := c.expect("next")
		if m.ID != "same" {
			t.Fatalf("next for %q", m.ID)
		}
		// Nothing more comes for the first one (no complete): the next
		// message is the pong of this ping.
		c.send(wsMessage{Type: "ping"})
		if m, err := c.read(); err != nil || m.Type != "pong" {
			t.Fatalf("got %+v %v, want only the pong", m, err)
		}
		// The second one is still running, and can be completed.
		c.send(wsMessage{ID: "same", Type: "complete"})
		c.send(wsMessage{Type: "ping"})
		if m, err := c.read(); err != nil || m.Type != "pong" {
			t.Fatalf("got %+v %v, want only the pong", m, err)
		}
	})

	t.Run("an id is free again once the server completed it", func(t *testing.T) {
		t.Parallel()
		c := s.ackedClient(t)
		for range 3 {
			vars, _ := json.Marshal(map[string]any{"query": `{ __typename }`})
			c.send(wsMessage{ID: "q", Type: "subscribe", Payload: vars})
			c.expect("next")
			c.expect("complete")
		}
	})

	t.Run("an operation refused with error is not also completed", func(t *testing.T) {
		t.Parallel()
		c := s.ackedClient(t)
		vars, _ := json.Marshal(map[string]any{"query": `subscription { noSuchField }`})
		c.send(wsMessage{ID: "bad", Type: "subscribe", Payload: vars})
		if m := c.expect("error"); m.ID != "bad" {
			t.Fatalf("error for %q", m.ID)
		}
		c.send(wsMessage{Type: "ping"})
		if m, err := c.read(); err != nil || m.Type != "pong" {
			t.Fatalf("got %+v %v after the error, want the pong", m, err)
		}
		// And its id may be used again.
		c.subscribe("bad", id)
		c.expect("next")
	})

	t.Run("complete for an unknown id is ignored", func(t *testing.T) {
		t.Parallel()
		c := s.ackedClient(t)
		c.send(wsMessage{ID: "nope", Type: "complete"})
		c.subscribe("1", id)
		c.expect("next")
	})
}

func TestWebSocketKeepAlive(t *testing.T) {
	s := startServer(t, map[string]string{"SHIPGRAPH_WS_KEEPALIVE": "100ms"})
	id := s.queuedDeployment(t)

	t.Run("graphql-transport-ws answers a ping with a pong", func(t *testing.T) {
		t.Parallel()
		c := s.ackedClient(t)
		c.sendRaw(`{"type":"ping","payload":{"at":"now"}}`)
		for {
			m, err := c.read()
			if err != nil {
				t.Fatal(err)
			}
			if m.Type == "pong" {
				if string(m.Payload) != `{"at":"now"}` {
					t.Fatalf("pong payload %s", m.Payload)
				}
				return
			}
			if m.Type != "ping" {
				t.Fatalf("got %s, want pong", m.Type)
			}
		}
	})

	t.Run("graphql-transport-ws pings, and a client that pongs stays", func(t *testing.T) {
		t.Parallel()
		c := s.ackedClient(t)
		c.subscribe("1", id)
		pings := 0
		for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
			m, err := c.read()
			if err != nil {
				t.Fatalf("after %d pings: %v", pings, err)
			}
			if m.Type == "ping" {
				pings++
				c.send(wsMessage{Type: "pong"})
			}
		}
		if pings < 3 {
			t.Fatalf("%d pings in a second at a 100ms interval", pings)
		}
		// Still alive and serving.
		c.send(wsMessage{ID: "1", Type: "complete"})
		c.subscribe("2", id)
		if m := c.expect("next"); m.ID != "2" {
			t.Fatalf("next for %q", m.ID)
		}
	})

	t.Run("graphql-transport-ws drops a client that never pongs", func(t *testing.T) {
		t.Parallel()
		c := s.ackedClient(t)
		start := time.Now()
		for {
			if _, err := c.read(); err != nil {
				break
			}
			if time.Since(start) > 5*time.Second {
				t.Fatal("a client that never answers pings is still connected")
			}
		}
	})

	t.Run("legacy graphql-ws gets ka messages", func(t *testing.T) {
		t.Parallel()
		c := s.dialWS(t, "graphql-ws", map[string]any{"Authorization": "Bearer " + adminToken()})
		if m, err := c.read(); err != nil || m.Type != "connection_ack" {
			t.Fatalf("got %+v %v", m, err)
		}
		start := time.Now()
		kas := 0
		for kas < 4 {
			m, err := c.read()
			if err != nil {
				t.Fatal(err)
			}
			if m.Type != "ka" {
				t.Fatalf("got %s, want ka", m.Type)
			}
			kas++
		}
		// One at the ack, then one every 100ms.
		if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
			t.Fatalf("4 ka messages in %s", d)
		}
	})
}

// startHandlerServer serves NewServer over the package's database with an
// in-process bus and a hub the test can inspect, as api_test's
// TestInternalErrorsLeakNothing does. Deployments stay as the API leaves
// them: nothing runs them.
func startHandlerServer(t *testing.T, env map[string]string) (*testServer, *live.Memory, *live.Hub) {
	t.Helper()
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	bus := &live.Memory{}
	store := &live.Publisher{Store: postgres.NewStore(testDB.DB), Bus: bus}
	hub := &live.Hub{Bus: bus, Log: store, Refill: cfg.LiveRefill}
	srv := httptest.NewServer(NewServer(serverDeps{
		Logger:  slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Store:   store,
		Ready:   testDB.DB,
		Config:  cfg,
		Version: "test",
		Auth:    testAuth,
		Bus:     bus,
		Hub:     hub,
	}))
	t.Cleanup(srv.Close)
	return &testServer{URL: srv.URL}, bus, hub
}

// Clients that vanish (TCP closed without a close frame) leave nothing
// behind: 50 connections × 20 subscriptions are opened, then dropped, and
// the goroutines return to where they were and the bus has no subscriber
// left. Not parallel: it counts the goroutines of the whole process.
func TestDroppedSubscriptionsLeaveNothingBehind(t *testing.T) {
	const conns, perConn = 50, 20
	s, bus, hub := startHandlerServer(t, map[string]string{
		"SHIPGRAPH_MAX_SUBSCRIPTIONS": strconv.Itoa(perConn),
		"SHIPGRAPH_MAX_CONNECTIONS":   strconv.Itoa(conns),
		"SHIPGRAPH_RATE_LIMIT":        "1000000",
	})
	deployments := make([]string, 5)
	for i := range deployments {
		deployments[i] = s.queuedDeployment(t)
	}

	settle := func() (goroutines int, heap uint64) {
		runtime.GC()
		runtime.GC() // what sync.Pools held is freed by the second cycle
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return runtime.NumGoroutine(), ms.HeapAlloc
	}
	baseGoroutines, baseHeap := settle()

	// The clients are not registered for cleanup: once dropped, nothing
	// of theirs stays reachable to blur the heap measure.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	clients := make([]*wsClient, conns)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.conn.CloseNow()
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := range clients {
		conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+"/graphql",
			&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		if err != nil {
			t.Fatal(err)
		}
		c := &wsClient{t: t, conn: conn, ctx: ctx}
		clients[i] = c
		payload, _ := json.Marshal(map[string]any{"Authorization": "Bearer " + adminToken()})
		c.send(wsMessage{Type: "connection_init", Payload: payload})
		c.expect("connection_ack")
		wg.Go(func() {
			for j := range perConn {
				vars, _ := json.Marshal(map[string]any{"query": progressSubscription, "variables": map[string]any{"id": deployments[(i+j)%len(deployments)]}})
				if err := wsjson.Write(c.ctx, c.conn, wsMessage{ID: strconv.Itoa(j), Type: "subscribe", Payload: vars}); err != nil {
					errs <- err
					return
				}
			}
			// Each replays the QUEUED event: all are subscribed then.
			for range perConn {
				m, err := c.next()
				if err == nil && m.Type != "next" {
					err = errors.New("got " + m.Type + " " + string(m.Payload))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := hub.Subscribers(); n != conns*perConn {
		t.Fatalf("%d hub subscribers, want %d", n, conns*perConn)
	}
	// One bus subscription per deployment, shared by its subscribers.
	if n := bus.Subscribers(); n != len(deployments) {
		t.Fatalf("%d bus subscribers, want %d", n, len(deployments))
	}
	peak := runtime.NumGoroutine()

	for i, c := range clients {
		c.conn.CloseNow() // no close frame: the TCP connection just ends
		clients[i] = nil
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		goroutines, heap := settle()
		subs := bus.Subscribers() + hub.Subscribers()
		if subs == 0 && goroutines <= baseGoroutines+5 {
			t.Logf("goroutines: %d at baseline, %d with %d subscriptions, %d after; heap %d KB, then %d KB",
				baseGoroutines, peak, conns*perConn, goroutines, baseHeap>>10, heap>>10)
			// Not a precise measure (the heap also holds caches), but
			// 1,000 leaked subscriptions would show as megabytes.
			if heap > baseHeap+4<<20 {
				t.Errorf("heap grew from %d KB to %d KB", baseHeap>>10, heap>>10)
			}
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d bus and hub subscribers and %d goroutines left (baseline %d):\n%s",
				subs, goroutines, baseGoroutines, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(100 * time.Millisecond)
	}
}
