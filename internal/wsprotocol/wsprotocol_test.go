package wsprotocol

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// fakeExec stands in for gqlgen's executor. The query names what an
// operation does:
//
//   - "stream": a subscription whose resolver signals (Stream): it sends
//     1…n (variable n; forever when 0) from a goroutine of its own, then
//     closes, or stops when its context ends;
//   - "plain": the same without signalling, as a resolver that does not
//     know this transport;
//   - "boom": its resolver panics;
//   - anything else fails validation.
type fakeExec struct {
	producers sync.WaitGroup // the streams' sending goroutines
	running   atomic.Int64   // of them, still running
}

var _ graphql.GraphExecutor = (*fakeExec)(nil)

func (e *fakeExec) CreateOperationContext(_ context.Context, p *graphql.RawParams) (*graphql.OperationContext, gqlerror.List) {
	switch p.Query {
	case "stream", "plain", "boom":
	default:
		return nil, gqlerror.List{{Message: "unknown query " + p.Query}}
	}
	return &graphql.OperationContext{
		RawQuery: p.Query, Variables: p.Variables,
		Operation:   &ast.OperationDefinition{Operation: ast.Subscription},
		RecoverFunc: func(_ context.Context, p any) error { return fmt.Errorf("panic: %v", p) },
	}, nil
}

func (e *fakeExec) DispatchOperation(ctx context.Context, rc *graphql.OperationContext) (graphql.ResponseHandler, context.Context) {
	n := 0
	if v, ok := rc.Variables["n"].(json.Number); ok {
		i, _ := v.Int64()
		n = int(i)
	}
	open := func(notify func()) (<-chan int, error) {
		ch := make(chan int, 4)
		e.producers.Add(1)
		e.running.Add(1)
		go func() {
			defer e.producers.Done()
			defer e.running.Add(-1)
			defer func() {
				close(ch)
				if notify != nil {
					notify()
				}
			}()
			for i := 1; n == 0 || i <= n; i++ {
				select {
				case ch <- i:
					if notify != nil {
						notify()
					}
				case <-ctx.Done():
					return
				}
			}
		}()
		return ch, nil
	}
	var ch <-chan int
	switch rc.RawQuery {
	case "stream":
		ch, _ = Stream(ctx, open)
	case "plain":
		ch, _ = open(nil)
	case "boom":
		panic("the resolver broke")
	}
	return func(ctx context.Context) *graphql.Response {
		select {
		case v, ok := <-ch:
			if !ok {
				return nil
			}
			return &graphql.Response{Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, v))}
		case <-ctx.Done():
			return nil
		}
	}, ctx
}

func (e *fakeExec) DispatchError(_ context.Context, list gqlerror.List) *graphql.Response {
	return &graphql.Response{Errors: list}
}

// testServer serves the transport over exec; closed receives each
// connection's close code once it has ended.
func testServer(t *testing.T, exec *fakeExec) (url string, closed chan int) {
	t.Helper()
	closed = make(chan int, 100)
	tr := Transport{
		Init: func(ctx context.Context, p transport.InitPayload) (context.Context, error) {
			if p.Authorization() != "ok" {
				return ctx, &CloseError{Code: CloseForbidden, Reason: "Forbidden", Err: errors.New("no")}
			}
			return ctx, nil
		},
		Closed:      func(_ context.Context, code int) { closed <- code },
		InitTimeout: 5 * time.Second,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !tr.Supports(r) {
			http.Error(w, "not graphql-transport-ws", http.StatusBadRequest)
			return
		}
		tr.Do(w, r, exec)
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http"), closed
}

type message struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// client is an acknowledged connection.
type client struct {
	t    *testing.T
	ctx  context.Context
	conn *websocket.Conn
}

func dial(t *testing.T, url string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{Subprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	conn.SetReadLimit(-1)
	c := &client{t: t, ctx: ctx, conn: conn}
	c.send(message{Type: "connection_init", Payload: json.RawMessage(`{"Authorization":"ok"}`)})
	if m := c.read(); m.Type != "connection_ack" {
		t.Fatalf("got %+v, want connection_ack", m)
	}
	return c
}

func (c *client) send(m message) {
	c.t.Helper()
	if err := wsjson.Write(c.ctx, c.conn, m); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) subscribe(id, query string, n int) {
	c.t.Helper()
	p, _ := json.Marshal(map[string]any{"query": query, "variables": map[string]any{"n": n}})
	c.send(message{ID: id, Type: "subscribe", Payload: p})
}

func (c *client) read() message {
	c.t.Helper()
	var m message
	if err := wsjson.Read(c.ctx, c.conn, &m); err != nil {
		c.t.Fatal(err)
	}
	return m
}

// Twenty subscriptions of one connection whose events come at once, and so
// are written together, each get theirs in order, then complete.
func TestCoalescedWritesKeepEachSubscriptionsOrder(t *testing.T) {
	t.Parallel()
	exec := &fakeExec{}
	url, _ := testServer(t, exec)
	c := dial(t, url)
	const subs, events = 20, 300
	for i := range subs {
		c.subscribe(fmt.Sprint(i), "stream", events)
	}
	next := map[string]int{}
	for done := 0; done < subs; {
		m := c.read()
		switch m.Type {
		case "next":
			var p struct{ Data struct{ N int } }
			if err := json.Unmarshal(m.Payload, &p); err != nil {
				t.Fatalf("payload %s: %v", m.Payload, err)
			}
			if p.Data.N != next[m.ID]+1 {
				t.Fatalf("subscription %s: got %d after %d", m.ID, p.Data.N, next[m.ID])
			}
			next[m.ID] = p.Data.N
		case "complete":
			if next[m.ID] != events {
				t.Fatalf("subscription %s completed after %d of %d", m.ID, next[m.ID], events)
			}
			done++
		default:
			t.Fatalf("got %+v", m)
		}
	}
}

// Operations whose resolver does not signal run as in gqlgen; a panicking
// resolver is an error, and the connection goes on.
func TestOperationsThatDoNotSignal(t *testing.T) {
	t.Parallel()
	exec := &fakeExec{}
	url, _ := testServer(t, exec)
	c := dial(t, url)

	c.subscribe("plain", "plain", 3)
	for want := 1; want <= 3; want++ {
		if m := c.read(); m.Type != "next" || m.ID != "plain" || string(m.Payload) != fmt.Sprintf(`{"data":{"n":%d}}`, want) {
			t.Fatalf("got %+v, want next %d", m, want)
		}
	}
	if m := c.read(); m.Type != "complete" || m.ID != "plain" {
		t.Fatalf("got %+v, want complete", m)
	}

	c.subscribe("boom", "boom", 0)
	if m := c.read(); m.Type != "error" || m.ID != "boom" || !strings.Contains(string(m.Payload), "the resolver broke") {
		t.Fatalf("got %+v, want the panic as an error", m)
	}
	c.subscribe("invalid", "nonsense", 0)
	if m := c.read(); m.Type != "next" || !strings.Contains(string(m.Payload), "unknown query") {
		t.Fatalf("got %+v, want the validation error", m)
	}
	if m := c.read(); m.Type != "complete" || m.ID != "invalid" {
		t.Fatalf("got %+v, want complete", m)
	}
	c.send(message{Type: "ping"})
	if m := c.read(); m.Type != "pong" {
		t.Fatalf("got %+v, want pong", m)
	}
}

// Clients that vanish (no close frame) leave nothing behind: every
// operation's context ends, so its producer stops; every connection is
// reported closed; the goroutines return to their baseline.
func TestVanishedClientsReleaseEverything(t *testing.T) {
	exec := &fakeExec{}
	url, closed := testServer(t, exec)
	settle := func() int { runtime.GC(); return runtime.NumGoroutine() }
	base := settle()

	const conns, subs = 10, 20
	clients := make([]*client, conns)
	for i := range clients {
		c := dial(t, url)
		clients[i] = c
		for j := range subs {
			query := "stream"
			if j%5 == 0 {
				query = "plain" // some of the other kind too
			}
			c.subscribe(fmt.Sprint(j), query, 0) // endless
		}
		// Each has sent something: all are running.
		seen := map[string]bool{}
		for len(seen) < subs {
			seen[c.read().ID] = true
		}
	}
	if n := exec.running.Load(); n != conns*subs {
		t.Fatalf("%d producers running, want %d", n, conns*subs)
	}
	for _, c := range clients {
		c.conn.CloseNow()
	}
	for range conns {
		select {
		case <-closed:
		case <-time.After(20 * time.Second):
			t.Fatal("a vanished connection was not reported closed")
		}
	}
	exec.producers.Wait() // every operation's context ended
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := settle()
		if n <= base {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, baseline %d:\n%s", n, base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond) // goroutines have no signal to await
	}
}

// countingConn counts the writes that reach the socket.
type countingConn struct {
	net.Conn
	writes [][]byte
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, append([]byte(nil), p...))
	return len(p), nil
}

// What is written while corked goes out in one write, in order, at
// uncork; outside a batch writes go through at once.
func TestCorkConnWritesABatchOnce(t *testing.T) {
	t.Parallel()
	sock := &countingConn{}
	c := &corkConn{Conn: sock}
	c.Write([]byte("a"))
	if len(sock.writes) != 1 {
		t.Fatalf("%d writes uncorked, want 1", len(sock.writes))
	}
	c.cork()
	for _, s := range []string{"b", "c", "d"} {
		c.Write([]byte(s))
	}
	if len(sock.writes) != 1 {
		t.Fatalf("%d writes while corked, want none", len(sock.writes)-1)
	}
	c.uncork()
	if len(sock.writes) != 2 || string(sock.writes[1]) != "bcd" {
		t.Fatalf("writes %q, want [a bcd]", sock.writes)
	}
	c.uncork() // nothing held: nothing written
	if len(sock.writes) != 2 {
		t.Fatalf("an empty uncork wrote %q", sock.writes[2:])
	}
}

// Supports leaves the legacy protocol, and a client offering both (which
// gqlgen answers with graphql-ws), to gqlgen's transport.
func TestSupports(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		upgrade, protocols string
		want               bool
	}{
		{"websocket", "graphql-transport-ws", true},
		{"websocket", "foo, graphql-transport-ws", true},
		{"websocket", "graphql-ws", false},
		{"websocket", "graphql-transport-ws, graphql-ws", false},
		{"websocket", "", false},
		{"", "graphql-transport-ws", false},
	} {
		r := httptest.NewRequest(http.MethodGet, "/graphql", nil)
		if tc.upgrade != "" {
			r.Header.Set("Upgrade", tc.upgrade)
		}
		if tc.protocols != "" {
			r.Header.Set("Sec-WebSocket-Protocol", tc.protocols)
		}
		if got := (Transport{}).Supports(r); got != tc.want {
			t.Errorf("Upgrade %q, protocols %q: %v, want %v", tc.upgrade, tc.protocols, got, tc.want)
		}
	}
}

// An id is free again as soon as the client has read its operation's
// complete: subscribing again with it at once is no duplicate (4409).
func TestIDIsFreeOnceCompleteIsRead(t *testing.T) {
	t.Parallel()
	exec := &fakeExec{}
	url, _ := testServer(t, exec)
	c := dial(t, url)
	for i := range 300 {
		query := "stream"
		if i%2 == 1 {
			query = "plain"
		}
		c.subscribe("same", query, 1)
		if m := c.read(); m.Type != "next" || m.ID != "same" {
			t.Fatalf("round %d: got %+v, want next", i, m)
		}
		if m := c.read(); m.Type != "complete" || m.ID != "same" {
			t.Fatalf("round %d: got %+v, want complete", i, m)
		}
	}
}
