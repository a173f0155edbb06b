package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/shipgraph/shipgraph/internal/auth"
	"github.com/shipgraph/shipgraph/internal/live"
	"github.com/shipgraph/shipgraph/internal/pgtest"
	"github.com/shipgraph/shipgraph/internal/redistest"
)

// wsClient speaks graphql-transport-ws to the server, as a dashboard would.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
	ctx  context.Context
}

type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// dialWS connects and sends connection_init with the given payload.
func (s *testServer) dialWS(t *testing.T, protocol string, initPayload map[string]any) *wsClient {
	t.Helper()
	c := s.dialRaw(t, protocol)
	payload, _ := json.Marshal(initPayload)
	c.send(wsMessage{Type: "connection_init", Payload: payload})
	return c
}

func (c *wsClient) send(m wsMessage) {
	c.t.Helper()
	if err := wsjson.Write(c.ctx, c.conn, m); err != nil {
		c.t.Fatal(err)
	}
}

// next reads the next message that is not a keep-alive.
func (c *wsClient) next() (wsMessage, error) {
	for {
		var m wsMessage
		if err := wsjson.Read(c.ctx, c.conn, &m); err != nil {
			return m, err
		}
		if m.Type != "ping" && m.Type != "pong" && m.Type != "ka" {
			return m, nil
		}
	}
}

func (c *wsClient) expect(typ string) wsMessage {
	c.t.Helper()
	m, err := c.next()
	if err != nil {
		c.t.Fatalf("waiting for %s: %v", typ, err)
	}
	if m.Type != typ {
		c.t.Fatalf("got %s (%s), want %s", m.Type, m.Payload, typ)
	}
	return m
}

const progressSubscription = `subscription($id: ID!, $after: Int) {
  deploymentProgress(deploymentId: $id, afterSequence: $after) { sequence status stage stageStatus message }
}`

type progressEvent struct {
	Sequence int
	Status   string
}

// eventOf decodes a "next" message of deploymentProgress.
func eventOf(t *testing.T, m wsMessage) progressEvent {
	t.Helper()
	var p struct {
		Data   struct{ DeploymentProgress progressEvent }
		Errors []any
	}
	if err := json.Unmarshal(m.Payload, &p); err != nil || len(p.Errors) > 0 {
		t.Fatalf("next: %s", m.Payload)
	}
	return p.Data.DeploymentProgress
}

func TestDeploymentProgressOverGraphQLTransportWS(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	id := s.queuedDeployment(t)

	c := s.dialWS(t, "graphql-transport-ws", map[string]any{"Authorization": "Bearer " + adminToken()})
	c.expect("connection_ack")
	c.subscribe("1", id)
	if e := eventOf(t, c.expect("next")); e.Sequence != 1 || e.Status != "QUEUED" {
		t.Fatalf("replayed %+v", e)
	}
	// A change committed now arrives live, then the stream completes.
	s.cancelDeployment(t, id)
	if e := eventOf(t, c.expect("next")); e.Sequence != 2 || e.Status != "CANCELLED" {
		t.Fatalf("live %+v", e)
	}
	if m := c.expect("complete"); m.ID != "1" {
		t.Fatalf("complete for %q", m.ID)
	}

	t.Run("resuming after a sequence replays the rest and completes", func(t *testing.T) {
		c := s.dialWS(t, "graphql-transport-ws", map[string]any{"Authorization": "Bearer " + adminToken()})
		c.expect("connection_ack")
		vars, _ := json.Marshal(map[string]any{"query": progressSubscription, "variables": map[string]any{"id": id, "after": 1}})
		c.send(wsMessage{ID: "r", Type: "subscribe", Payload: vars})
		if e := eventOf(t, c.expect("next")); e.Sequence != 2 {
			t.Fatalf("resumed at %+v", e)
		}
		c.expect("complete")
	})

	t.Run("past the end of a finished deployment it completes at once", func(t *testing.T) {
		c := s.dialWS(t, "graphql-transport-ws", map[string]any{"Authorization": "Bearer " + adminToken()})
		c.expect("connection_ack")
		vars, _ := json.Marshal(map[string]any{"query": progressSubscription, "variables": map[string]any{"id": id, "after": 2}})
		c.send(wsMessage{ID: "e", Type: "subscribe", Payload: vars})
		c.expect("complete")
	})
}

func TestWebSocketInitWithoutAValidTokenCloses4403(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	for name, payload := range map[string]map[string]any{
		"no token":      {},
		"invalid token": {"Authorization": "Bearer not.a.token"},
	} {
		t.Run(name, func(t *testing.T) {
			c := s.dialWS(t, "graphql-transport-ws", payload)
			var err error
			for err == nil {
				_, err = c.next()
			}
			if code := websocket.CloseStatus(err); code != 4403 {
				t.Fatalf("closed with %d (%v), want 4403", code, err)
			}
		})
	}
}

func TestDeploymentProgressOverLegacyGraphQLWS(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	id := s.queuedDeployment(t)
	s.cancelDeployment(t, id)

	c := s.dialWS(t, "graphql-ws", map[string]any{"Authorization": "Bearer " + adminToken()})
	c.expect("connection_ack")
	vars, _ := json.Marshal(map[string]any{"query": progressSubscription, "variables": map[string]any{"id": id}})
	c.send(wsMessage{ID: "1", Type: "start", Payload: vars})
	for want := 1; want <= 2; want++ {
		if e := eventOf(t, c.expect("data")); e.Sequence != want {
			t.Fatalf("event %d: %+v", want, e)
		}
	}
	c.expect("complete")
}

// postSSE posts body to s as the admin, asking for Server-Sent Events; the
// caller reads and closes the stream.
func postSSE(t *testing.T, s *testServer, body map[string]any) *http.Response {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"/graphql", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+adminToken())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestDeploymentProgressOverSSE(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	id := s.queuedDeployment(t)
	s.cancelDeployment(t, id)

	res := postSSE(t, s, map[string]any{"query": progressSubscription, "variables": map[string]any{"id": id}})
	defer res.Body.Close()
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("content type %q", res.Header.Get("Content-Type"))
	}
	var seqs []int
	var events []string
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if ev, ok := strings.CutPrefix(line, "event: "); ok {
			events = append(events, ev)
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok && len(events) > 0 && events[len(events)-1] == "next" {
			var p struct {
				Data struct{ DeploymentProgress progressEvent }
			}
			if json.Unmarshal([]byte(data), &p) == nil {
				seqs = append(seqs, p.Data.DeploymentProgress.Sequence)
			}
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if len(seqs) != 2 || seqs[0] != 1 || seqs[1] != 2 || events[len(events)-1] != "complete" {
		t.Fatalf("sequences %v, events %v", seqs, events)
	}
}

// Two instances sharing PostgreSQL and Redis: a change committed on one
// reaches a subscriber of the other live.
func TestDeploymentProgressCrossesInstancesThroughRedis(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	env := map[string]string{"REDIS_URL": url, "SHIPGRAPH_REDIS_PREFIX": redistest.Prefix(t, url)}
	a, b := startServer(t, env), startServer(t, env)
	id := a.queuedDeployment(t)

	c := a.dialWS(t, "graphql-transport-ws", map[string]any{"Authorization": "Bearer " + adminToken()})
	c.expect("connection_ack")
	c.subscribe("1", id)
	if e := eventOf(t, c.expect("next")); e.Sequence != 1 {
		t.Fatalf("replayed %+v", e)
	}
	start := time.Now()
	b.cancelDeployment(t, id)
	if e := eventOf(t, c.expect("next")); e.Sequence != 2 || e.Status != "CANCELLED" {
		t.Fatalf("live %+v", e)
	}
	// Faster than the refill from the log (live.Refill): it came through Redis.
	if d := time.Since(start); d >= live.Refill {
		t.Errorf("the event took %s: it was refilled, not relayed", d)
	}
	c.expect("complete")
}

// subscribe starts deploymentProgress on an active deployment under id.
func (c *wsClient) subscribe(id, deployment string) {
	c.t.Helper()
	vars, _ := json.Marshal(map[string]any{"query": progressSubscription, "variables": map[string]any{"id": deployment}})
	c.send(wsMessage{ID: id, Type: "subscribe", Payload: vars})
}

// cancelDeployment cancels a deployment through the API.
func (s *testServer) cancelDeployment(t *testing.T, id string) {
	t.Helper()
	s.mustData(t, `mutation($id: ID!) { cancelDeployment(input: {id: $id}) { deployment { status } } }`, map[string]any{"id": id}, &struct{}{})
}

// queuedDeployment creates a deployment that stays QUEUED (nothing runs it
// in these tests) and returns its id.
func (s *testServer) queuedDeployment(t *testing.T) string {
	t.Helper()
	_, build := s.succeededBuild(t)
	var created createdDeployment
	s.mustData(t, createDeployment, map[string]any{"b": build, "env": "staging"}, &created)
	return created.CreateDeployment.Deployment.ID
}

func TestSubscriptionsPerConnectionAreCapped(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"SHIPGRAPH_MAX_SUBSCRIPTIONS": "2"})
	id := s.queuedDeployment(t)
	c := s.dialWS(t, "graphql-transport-ws", map[string]any{"Authorization": "Bearer " + adminToken()})
	c.expect("connection_ack")
	c.subscribe("1", id)
	c.expect("next")
	c.subscribe("2", id)
	c.expect("next")
	c.subscribe("3", id)
	// Refused before it runs: one result with the error, then complete.
	m := c.expect("next")
	if m.ID != "3" || !strings.Contains(string(m.Payload), `"limit":"subscriptionsPerConnection"`) {
		t.Fatalf("third subscription: %s %s", m.ID, m.Payload)
	}
	c.expect("complete")
	// Completing one frees its slot.
	c.send(wsMessage{ID: "1", Type: "complete"})
	deadline := time.Now().Add(5 * time.Second)
	for n := 4; ; n++ {
		sid := "again-" + strconv.Itoa(n)
		c.subscribe(sid, id)
		m, err := c.next()
		for err == nil && m.ID != sid { // the complete of subscription 1, say
			m, err = c.next()
		}
		if err != nil || m.Type != "next" {
			t.Fatalf("subscription %s: %s %v", sid, m.Type, err)
		}
		if !strings.Contains(string(m.Payload), "subscriptionsPerConnection") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the slot of a completed subscription was not released")
		}
	}
}

func TestConnectionsPerUserAreCapped(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"SHIPGRAPH_MAX_CONNECTIONS": "2"})
	tok, err := testAuth.Mint("conn-"+token(t), []auth.Role{auth.RoleViewer}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	init := map[string]any{"Authorization": "Bearer " + tok}
	first := s.dialWS(t, "graphql-transport-ws", init)
	first.expect("connection_ack")
	s.dialWS(t, "graphql-transport-ws", init).expect("connection_ack")
	third := s.dialWS(t, "graphql-transport-ws", init)
	_, err = third.next()
	for err == nil {
		_, err = third.next()
	}
	if code := websocket.CloseStatus(err); code != websocket.StatusPolicyViolation {
		t.Fatalf("third connection closed with %d (%v)", code, err)
	}
	// Closing one gives its slot back.
	first.conn.Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := s.dialWS(t, "graphql-transport-ws", init)
		if m, err := c.next(); err == nil && m.Type == "connection_ack" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("a closed connection's slot was not released")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSubscriptionEndsWhenItsTokenExpires(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	id := s.queuedDeployment(t)
	// expiringToken expired 25 s ago: the verifier's 30 s leeway accepts it
	// for 5 s more. Minted in each subtest, once it runs: a parallel
	// subtest may wait a while for its turn.
	expiringToken := func(t *testing.T) string {
		t.Helper()
		minter, err := auth.New(auth.Config{Secret: []byte(testJWTSecret), Now: func() time.Time { return time.Now().Add(-30 * time.Second) }})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := minter.Mint("expiring-"+token(t), []auth.Role{auth.RoleViewer}, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	t.Run("over WebSocket", func(t *testing.T) {
		t.Parallel()
		c := s.dialWS(t, "graphql-transport-ws", map[string]any{"Authorization": "Bearer " + expiringToken(t)})
		c.expect("connection_ack")
		c.subscribe("1", id)
		c.expect("next")
		start := time.Now()
		var err error
		for err == nil {
			_, err = c.next()
		}
		if waited := time.Since(start); waited > 15*time.Second {
			t.Fatalf("the connection outlived its token by %s", waited)
		}
	})
	t.Run("over SSE", func(t *testing.T) {
		t.Parallel()
		body, _ := json.Marshal(map[string]any{"query": progressSubscription, "variables": map[string]any{"id": id}})
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+"/graphql", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Authorization", "Bearer "+expiringToken(t))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("status %d", res.StatusCode)
		}
		done := make(chan error, 1)
		go func() { _, err := io.Copy(io.Discard, res.Body); done <- err }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Fatal("the event stream outlived its token")
		}
	})
}

// A WebSocket from a page of another origin is refused before the upgrade.
func TestWebSocketFromAForeignOriginIsRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+"/graphql", &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"},
		HTTPHeader:   http.Header{"Origin": {"https://evil.example"}},
	})
	if err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("err %v, response %v", err, res)
	}
}

// The whole path a release dashboard sees: a deployment started through
// the API runs on the worker, and its stages stream live to a subscriber
// until the terminal event.
func TestDeploymentRunsAndStreamsItsStages(t *testing.T) {
	t.Parallel()
	// A database of its own: a worker runs every deployment of its
	// database, and the other tests' must stay as they left them.
	db, err := pgtest.Create(t.Context(), "run")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Drop(context.Background()) })
	s := startServer(t, map[string]string{"DATABASE_URL": db.URL, "SHIPGRAPH_RUN_DEPLOYMENTS": "true", "SHIPGRAPH_STAGE_DURATION": "100ms"})
	id := s.queuedDeployment(t)

	c := s.dialWS(t, "graphql-transport-ws", map[string]any{"Authorization": "Bearer " + adminToken()})
	c.expect("connection_ack")
	c.subscribe("1", id)
	var last progressEvent
	for want := 1; ; want++ {
		m, err := c.next()
		if err != nil {
			t.Fatal(err)
		}
		if m.Type == "complete" {
			break
		}
		e := eventOf(t, m)
		if e.Sequence != want {
			t.Fatalf("event %d has sequence %d: a gap or a duplicate", want, e.Sequence)
		}
		last = e
	}
	if last.Status != "SUCCEEDED" {
		t.Fatalf("the stream ended on %+v", last)
	}
	var out struct {
		Deployment struct {
			Status   string
			Progress int
			Stages   []struct{ Name, Status string }
		}
	}
	s.mustData(t, `query($id: ID!) { deployment(id: $id) { status progress stages { name status } } }`, map[string]any{"id": id}, &out)
	if out.Deployment.Status != "SUCCEEDED" || out.Deployment.Progress != 100 {
		t.Fatalf("deployment %+v", out.Deployment)
	}
	for _, st := range out.Deployment.Stages {
		if st.Status != "SUCCEEDED" {
			t.Errorf("stage %s is %s", st.Name, st.Status)
		}
	}
}
