// Package live is the live benchmark (scripts/bench-live.sh, `make
// bench-live`): deployments per second end to end through the real server,
// commit-to-client latency of thousands of graphql-transport-ws
// subscriptions, and the memory an idle subscription costs. The script
// starts and stops the servers; the commands in bench/cmd/livebench drive
// them with the functions here and render the results.
package live

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Client posts GraphQL operations to one server.
type Client struct {
	URL  string // http://host:port/graphql
	Auth string // the Authorization header, "Bearer <token>"
	HTTP *http.Client
}

// NewClient returns a client with room for conns keep-alive connections.
func NewClient(url, auth string, conns int) *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = conns + 8
	tr.MaxIdleConnsPerHost = conns + 8
	tr.MaxConnsPerHost = 0
	return &Client{URL: url, Auth: auth, HTTP: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// Do runs one operation and decodes its data into out. An answer with
// errors is an error, whatever data came with it.
func (c *Client) Do(ctx context.Context, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.Auth != "" {
		req.Header.Set("Authorization", c.Auth)
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return err
	}
	var ans struct {
		Data   json.RawMessage `json:"data"`
		Errors json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(b, &ans); err != nil {
		return fmt.Errorf("status %d, not JSON: %.300s", res.StatusCode, b)
	}
	if len(ans.Errors) > 0 && string(ans.Errors) != "null" {
		return fmt.Errorf("status %d: %.500s", res.StatusCode, ans.Errors)
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %.300s", res.StatusCode, b)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(ans.Data, out)
}

// SucceededBuilds returns up to n SUCCEEDED builds' IDs, newest first.
func (c *Client) SucceededBuilds(ctx context.Context, n int) ([]string, error) {
	var ids []string
	after := ""
	for len(ids) < n {
		var out struct {
			Builds struct {
				Nodes    []struct{ ID string }
				PageInfo struct {
					HasNextPage bool
					EndCursor   string
				}
			}
		}
		vars := map[string]any{"first": min(100, n-len(ids))}
		if after != "" {
			vars["after"] = after
		}
		err := c.Do(ctx, `query($first: Int, $after: String) {
  builds(first: $first, after: $after, filter: {status: SUCCEEDED}) { nodes { id } pageInfo { hasNextPage endCursor } }
}`, vars, &out)
		if err != nil {
			return nil, fmt.Errorf("listing SUCCEEDED builds: %w", err)
		}
		for _, b := range out.Builds.Nodes {
			ids = append(ids, b.ID)
		}
		if !out.Builds.PageInfo.HasNextPage {
			break
		}
		after = out.Builds.PageInfo.EndCursor
	}
	if len(ids) == 0 {
		return nil, errors.New("no SUCCEEDED build to deploy: seed the database (shipgraph seed)")
	}
	return ids, nil
}

const createDeployment = `mutation($in: CreateDeploymentInput!) {
  createDeployment(input: $in) { created deployment { id status } }
}`

// CreateDeployment deploys build to env and returns the deployment's ID.
func (c *Client) CreateDeployment(ctx context.Context, build, env, key string) (string, error) {
	var out struct {
		CreateDeployment struct {
			Created    bool
			Deployment struct{ ID, Status string }
		}
	}
	in := map[string]any{"buildId": build, "environment": env}
	if key != "" {
		in["idempotencyKey"] = key
	}
	if err := c.Do(ctx, createDeployment, map[string]any{"in": in}, &out); err != nil {
		return "", fmt.Errorf("createDeployment %s: %w", env, err)
	}
	if !out.CreateDeployment.Created {
		return "", fmt.Errorf("createDeployment %s: the idempotency key had been used already", env)
	}
	return out.CreateDeployment.Deployment.ID, nil
}

// DeploymentState is a deployment as the benchmark checks it.
type DeploymentState struct {
	ID          string
	Status      string
	CreatedAt   time.Time
	StartedAt   *time.Time
	FinishedAt  *time.Time
	Error       *string
	EventsTotal int
}

// Deployments fetches the deployments ids name, 100 per request, in order.
func (c *Client) Deployments(ctx context.Context, ids []string) ([]DeploymentState, error) {
	out := make([]DeploymentState, 0, len(ids))
	for start := 0; start < len(ids); start += 100 {
		chunk := ids[start:min(start+100, len(ids))]
		var ans struct {
			Nodes []*struct {
				ID         string
				Status     string
				CreatedAt  time.Time
				StartedAt  *time.Time
				FinishedAt *time.Time
				Error      *string
				Events     struct{ TotalCount int }
			}
		}
		err := c.Do(ctx, `query($ids: [ID!]!) { nodes(ids: $ids) { ... on Deployment {
  id status createdAt startedAt finishedAt error events(first: 1) { totalCount } } } }`,
			map[string]any{"ids": chunk}, &ans)
		if err != nil {
			return nil, fmt.Errorf("reading deployments: %w", err)
		}
		for i, n := range ans.Nodes {
			if n == nil {
				return nil, fmt.Errorf("deployment %s not found", chunk[i])
			}
			out = append(out, DeploymentState{ID: n.ID, Status: n.Status, CreatedAt: n.CreatedAt,
				StartedAt: n.StartedAt, FinishedAt: n.FinishedAt, Error: n.Error, EventsTotal: n.Events.TotalCount})
		}
	}
	return out, nil
}

// WS is one graphql-transport-ws connection, acknowledged.
type WS struct {
	conn *websocket.Conn
	wmu  sync.Mutex
}

// Message is a graphql-transport-ws message, its payload left raw.
type Message struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// DialWS opens a graphql-transport-ws connection to httpURL (the /graphql
// endpoint), authenticates with connection_init and waits for the ack.
func DialWS(ctx context.Context, httpURL, auth string) (*WS, error) {
	u := "ws" + strings.TrimPrefix(httpURL, "http")
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	w := &WS{conn: conn}
	init, _ := json.Marshal(map[string]string{"Authorization": auth})
	if err := w.Send(ctx, Message{Type: "connection_init", Payload: init}); err != nil {
		conn.CloseNow()
		return nil, err
	}
	for {
		b, _, err := w.Read(ctx)
		if err != nil {
			conn.CloseNow()
			return nil, fmt.Errorf("waiting for connection_ack: %w", err)
		}
		var m Message
		if err := json.Unmarshal(b, &m); err != nil {
			conn.CloseNow()
			return nil, fmt.Errorf("waiting for connection_ack: %w", err)
		}
		switch m.Type {
		case "connection_ack":
			return w, nil
		case "ping":
			if err := w.Send(ctx, Message{Type: "pong"}); err != nil {
				conn.CloseNow()
				return nil, err
			}
		default:
			conn.CloseNow()
			return nil, fmt.Errorf("waiting for connection_ack, got %s: %.300s", m.Type, m.Payload)
		}
	}
}

// Send writes one message; safe for concurrent use.
func (w *WS) Send(ctx context.Context, m Message) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	w.wmu.Lock()
	defer w.wmu.Unlock()
	return w.conn.Write(ctx, websocket.MessageText, b)
}

// Subscribe starts operation id.
func (w *WS) Subscribe(ctx context.Context, id, query string, vars map[string]any) error {
	p, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	return w.Send(ctx, Message{ID: id, Type: "subscribe", Payload: p})
}

// Read returns the next message and the time it was read, taken before
// anything is decoded.
func (w *WS) Read(ctx context.Context) ([]byte, time.Time, error) {
	_, b, err := w.conn.Read(ctx)
	return b, time.Now(), err
}

// ReadInto reads the next message into buf (reset first), reusing its
// memory, and returns the time it was read.
func (w *WS) ReadInto(ctx context.Context, buf *bytes.Buffer) (time.Time, error) {
	buf.Reset()
	_, r, err := w.conn.Reader(ctx)
	if err != nil {
		return time.Time{}, err
	}
	_, err = buf.ReadFrom(r)
	return time.Now(), err
}

// Close closes the connection normally.
func (w *WS) Close() { w.conn.Close(websocket.StatusNormalClosure, "") }

// CloseNow drops the connection.
func (w *WS) CloseNow() { w.conn.CloseNow() }
