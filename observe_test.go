package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/shipgraph/shipgraph/internal/auth"
	"github.com/shipgraph/shipgraph/internal/metrics/metricstest"
	"github.com/shipgraph/shipgraph/internal/redistest"
)

// postWithID sends a GraphQL request with token ("" for none) and the
// given X-Request-ID, so that its log line can be found.
func (s *testServer) postWithID(t *testing.T, token, requestID, query string, vars map[string]any) *gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-ID", requestID)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return doAnonymous(t, req)
}

// logLine is one JSON log line of the server, as a map.
type logLine map[string]any

// logLine waits for the line with message msg and request_id id (and, if
// given, operation op): a request's line is written after its response.
func (s *testServer) logLine(t *testing.T, msg, id string, op ...string) logLine {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		sc := bufio.NewScanner(strings.NewReader(s.logs.String()))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var l logLine
			if json.Unmarshal(sc.Bytes(), &l) == nil && l["msg"] == msg && l["request_id"] == id &&
				(len(op) == 0 || l["operation"] == op[0]) {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q line for request %s %v in:\n%s", msg, id, op, s.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// codes returns the line's error_codes, failing when it is not a list.
func (l logLine) codes(t *testing.T) []string {
	t.Helper()
	raw, ok := l["error_codes"].([]any)
	if !ok {
		t.Fatalf("error_codes is %T (%v), want a list", l["error_codes"], l["error_codes"])
	}
	out := make([]string, len(raw))
	for i, c := range raw {
		out[i], _ = c.(string)
	}
	return out
}

// want checks fields of the line; a nil value means the field is absent.
func (l logLine) want(t *testing.T, fields map[string]any) {
	t.Helper()
	for k, v := range fields {
		got, present := l[k]
		if v == nil {
			if present {
				t.Errorf("%s = %v, want no such field (line %v)", k, got, l)
			}
			continue
		}
		if got != v {
			t.Errorf("%s = %v (%T), want %v (line %v)", k, got, got, v, l)
		}
	}
}

// statements returns the line's sql_statements.
func (l logLine) statements(t *testing.T) float64 {
	t.Helper()
	n, ok := l["sql_statements"].(float64)
	if !ok {
		t.Fatalf("sql_statements is %T (%v)", l["sql_statements"], l["sql_statements"])
	}
	return n
}

const watchSubscription = `subscription Watch($id: ID!) { deploymentProgress(deploymentId: $id) { sequence status } }`

// dialWithID opens a graphql-transport-ws connection with an X-Request-ID
// and waits for its acknowledgement.
func (s *testServer) dialWithID(t *testing.T, requestID, token string) (*websocket.Conn, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	conn, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+"/graphql", &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"},
		HTTPHeader:   http.Header{"X-Request-ID": {requestID}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Header.Get("X-Request-ID"); got != requestID {
		t.Errorf("the upgrade echoed X-Request-ID %q, want %q", got, requestID)
	}
	t.Cleanup(func() { conn.CloseNow() })
	payload, _ := json.Marshal(map[string]any{"Authorization": "Bearer " + token})
	if err := wsjson.Write(ctx, conn, wsMessage{Type: "connection_init", Payload: payload}); err != nil {
		t.Fatal(err)
	}
	readType(ctx, t, conn, "connection_ack")
	return conn, ctx
}

// readType reads messages, skipping keep-alives, until one of type typ.
func readType(ctx context.Context, t *testing.T, conn *websocket.Conn, typ string) wsMessage {
	t.Helper()
	for {
		var m wsMessage
		if err := wsjson.Read(ctx, conn, &m); err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		if m.Type == typ {
			return m
		}
		if m.Type != "ping" && m.Type != "pong" {
			t.Fatalf("got %s (%s), want %s", m.Type, m.Payload, typ)
		}
	}
}

func TestRequestLogLines(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	feature := s.createFeature(t, "log "+token(t))
	viewer, err := testAuth.Mint("log-viewer", []auth.Role{auth.RoleViewer}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("a query names its operation, type and user, and counts its statements", func(t *testing.T) {
		id := "log-query-" + token(t)
		r := s.postWithID(t, adminToken(), id, `query Overview { features(first: 2) { nodes { name builds { totalCount } } } }`, nil)
		if r.Status != http.StatusOK || len(r.Errors) > 0 || r.Header.Get("X-Request-ID") != id {
			t.Fatalf("%d %s (X-Request-ID %q)", r.Status, r.raw, r.Header.Get("X-Request-ID"))
		}
		l := s.logLine(t, "request", id)
		l.want(t, map[string]any{"operation": "Overview", "operation_type": "query", "user": "test-admin",
			"status": float64(200), "method": "POST", "path": "/graphql", "level": "INFO"})
		if codes := l.codes(t); len(codes) != 0 {
			t.Errorf("error_codes %v, want []", codes)
		}
		// features, then the builds of both, then their counts.
		if n := l.statements(t); n != 3 {
			t.Errorf("sql_statements %v, want 3", n)
		}
		if _, ok := l["duration"].(string); !ok {
			t.Errorf("duration %v", l["duration"])
		}
	})

	t.Run("health checks and scrapes are logged at debug, not info", func(t *testing.T) {
		probe := "log-probe-" + token(t)
		for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
			req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
			req.Header.Set("X-Request-ID", probe)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d", path, res.StatusCode)
			}
		}
		// A later request's line is written once the probes' would have been.
		id := "log-after-probe-" + token(t)
		s.postWithID(t, adminToken(), id, `{ __typename }`, nil)
		s.logLine(t, "request", id)
		if strings.Contains(s.logs.String(), probe) {
			t.Errorf("a probe was logged at info:\n%s", s.logs)
		}
	})

	t.Run("a mutation is logged as one", func(t *testing.T) {
		id := "log-mutation-" + token(t)
		r := s.postWithID(t, adminToken(), id, `mutation Rename($id: ID!) { updateFeature(input: {id: $id, name: "renamed by the log test"}) { feature { name } } }`,
			map[string]any{"id": feature})
		if len(r.Errors) > 0 {
			t.Fatalf("%s", r.raw)
		}
		l := s.logLine(t, "request", id)
		l.want(t, map[string]any{"operation": "Rename", "operation_type": "mutation", "user": "test-admin", "status": float64(200)})
		if n := l.statements(t); n < 1 {
			t.Errorf("sql_statements %v, want some", n)
		}
	})

	t.Run("errors are logged by code, never by message", func(t *testing.T) {
		id := "log-errors-" + token(t)
		// Two refused mutation fields: two FORBIDDEN errors, one code.
		r := s.postWithID(t, viewer, id, `mutation Sneaky { a: deleteFeature(input: {id: "secret-input-1"}) { deletedFeatureId } b: deleteFeature(input: {id: "secret-input-2"}) { deletedFeatureId } }`, nil)
		if len(r.Errors) == 0 {
			t.Fatalf("no errors: %s", r.raw)
		}
		l := s.logLine(t, "request", id)
		l.want(t, map[string]any{"operation": "Sneaky", "operation_type": "mutation", "user": "log-viewer"})
		if codes := l.codes(t); !slices.Equal(codes, []string{"FORBIDDEN"}) {
			t.Errorf("error_codes %v, want [FORBIDDEN] (each code once)", codes)
		}
		if line, _ := json.Marshal(l); strings.Contains(string(line), "secret-input") || strings.Contains(string(line), r.Errors[0].Message) {
			t.Errorf("the line carries what the user sent or an error message: %s", line)
		}

		id = "log-bad-token-" + token(t)
		if r := s.postWithID(t, "not-a-token", id, `{ features { totalCount } }`, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("a bad token: %d", r.Status)
		}
		l = s.logLine(t, "request", id)
		l.want(t, map[string]any{"status": float64(401), "user": nil, "operation": nil})
		if codes := l.codes(t); !slices.Equal(codes, []string{"UNAUTHENTICATED"}) {
			t.Errorf("error_codes %v", codes)
		}

		id = "log-invalid-" + token(t)
		s.postWithID(t, "", id, `query Broken { noSuchField }`, nil)
		l = s.logLine(t, "request", id)
		// Not an operation that ran: no name, type or user; the code is.
		l.want(t, map[string]any{"operation": nil, "operation_type": nil, "user": nil})
		if codes := l.codes(t); !slices.Equal(codes, []string{"GRAPHQL_VALIDATION_FAILED"}) {
			t.Errorf("error_codes %v", codes)
		}
	})

	t.Run("each WebSocket operation gets a line when it ends, the connection one when it closes", func(t *testing.T) {
		id := "log-ws-" + token(t)
		deployment := s.queuedDeployment(t)
		conn, ctx := s.dialWithID(t, id, viewer)
		payload, _ := json.Marshal(map[string]any{"query": watchSubscription, "variables": map[string]any{"id": deployment}})
		if err := wsjson.Write(ctx, conn, wsMessage{ID: "w1", Type: "subscribe", Payload: payload}); err != nil {
			t.Fatal(err)
		}
		readType(ctx, t, conn, "next") // the replayed QUEUED event
		payload, _ = json.Marshal(map[string]any{"query": `query Forged { node(id: "forged") { id } }`})
		if err := wsjson.Write(ctx, conn, wsMessage{ID: "q1", Type: "subscribe", Payload: payload}); err != nil {
			t.Fatal(err)
		}
		readType(ctx, t, conn, "next")
		readType(ctx, t, conn, "complete")
		query := s.logLine(t, "operation", id, "Forged")
		query.want(t, map[string]any{"operation": "Forged", "operation_type": "query", "user": "log-viewer"})
		if codes := query.codes(t); !slices.Equal(codes, []string{"BAD_USER_INPUT"}) {
			t.Errorf("query error_codes %v", codes)
		}

		time.Sleep(50 * time.Millisecond) // the subscription lives a little
		conn.Close(websocket.StatusNormalClosure, "")
		sub := s.logLine(t, "operation", id, "Watch")
		sub.want(t, map[string]any{"operation_type": "subscription", "user": "log-viewer"})
		if codes := sub.codes(t); len(codes) != 0 {
			t.Errorf("subscription error_codes %v", codes)
		}
		if n := sub.statements(t); n < 1 {
			t.Errorf("the subscription's replay counted %v statements", n)
		}
		if d, err := time.ParseDuration(sub["duration"].(string)); err != nil || d < 50*time.Millisecond {
			t.Errorf("subscription duration %v (%v), want at least its life", sub["duration"], err)
		}
		connLine := s.logLine(t, "request", id)
		connLine.want(t, map[string]any{"status": float64(http.StatusSwitchingProtocols), "user": "log-viewer", "operation": nil})
	})
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	scrape := func() metricstest.Families { return metricstest.Scrape(t, s.URL+"/metrics") }
	for i := range 3 {
		s.createFeature(t, "metrics "+token(t)+string(rune('a'+i)))
	}
	deployment := s.queuedDeployment(t)
	before := scrape()

	// What this test does, and what the metrics must say of it.
	s.mustData(t, `query Overview { features(first: 3) { nodes { builds { nodes { id } } } } }`, nil, &struct{}{})
	s.mustData(t, `query Overview { features(first: 3) { nodes { builds { nodes { id } } } } }`, nil, &struct{}{})
	s.mustData(t, `{ features(first: 1) { totalCount } }`, nil, &struct{}{})
	s.mustData(t, `mutation Create { createFeature(input: {name: "metrics mutation", complexityPoints: 2}) { feature { id } } }`, nil, &struct{}{})
	if r := s.post(t, `query Forged { node(id: "forged") { id } }`, nil); r.code() != "BAD_USER_INPUT" {
		t.Fatalf("forged id: %s", r.raw)
	}
	if r := s.post(t, `query Invalid { noSuchField }`, nil); r.code() != "GRAPHQL_VALIDATION_FAILED" {
		t.Fatalf("invalid: %s", r.raw)
	}
	if res, err := http.Get(s.URL + "/no/such/path/" + token(t)); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
	}

	conn, ctx := s.dialWithID(t, "metrics-ws-"+token(t), adminToken())
	payload, _ := json.Marshal(map[string]any{"query": watchSubscription, "variables": map[string]any{"id": deployment}})
	if err := wsjson.Write(ctx, conn, wsMessage{ID: "1", Type: "subscribe", Payload: payload}); err != nil {
		t.Fatal(err)
	}
	readType(ctx, t, conn, "next")
	during := scrape()
	conn.Close(websocket.StatusNormalClosure, "")

	var after metricstest.Families
	deadline := time.Now().Add(10 * time.Second)
	for {
		after = scrape()
		// The upgrade's request is counted when its handler returns,
		// after the connection is counted out.
		upgraded := after.Value("shipgraph_http_request_duration_seconds", map[string]string{"status": "1xx"})
		if after.Value("shipgraph_websocket_connections", nil) == 0 && after.Value("shipgraph_subscriptions_active", nil) == 0 && upgraded == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gauges did not go back down: %v connections, %v subscriptions",
				after.Value("shipgraph_websocket_connections", nil), after.Value("shipgraph_subscriptions_active", nil))
		}
		time.Sleep(20 * time.Millisecond)
	}
	delta := func(name string, labels map[string]string) float64 {
		return after.Value(name, labels) - before.Value(name, labels)
	}
	type L = map[string]string

	t.Run("GraphQL operations by name, type and outcome", func(t *testing.T) {
		const ops = "shipgraph_graphql_operation_duration_seconds"
		for _, c := range []struct {
			labels L
			want   float64
		}{
			{L{"operation": "Overview", "type": "query", "outcome": "ok"}, 2},
			{L{"operation": "anonymous", "type": "query", "outcome": "ok"}, 1},
			{L{"operation": "Create", "type": "mutation", "outcome": "ok"}, 1},
			{L{"operation": "Forged", "type": "query", "outcome": "client_error"}, 1},
			{L{"operation": "unknown", "type": "unknown", "outcome": "client_error"}, 1},
			{L{"operation": "Watch", "type": "subscription", "outcome": "ok"}, 1},
		} {
			if got := delta(ops, c.labels); got != c.want {
				t.Errorf("%v: %v operations, want %v", c.labels, got, c.want)
			}
		}
		// The subscription lived from its start to the socket's close.
		if sum := delta(ops, L{"type": "subscription"}); sum <= 0 {
			t.Errorf("subscription duration %v", sum)
		}
	})

	t.Run("errors by code", func(t *testing.T) {
		for code, want := range map[string]float64{"BAD_USER_INPUT": 1, "GRAPHQL_VALIDATION_FAILED": 1, "FORBIDDEN": 0} {
			if got := delta("shipgraph_graphql_errors_total", L{"code": code}); got != want {
				t.Errorf("%s: %v, want %v", code, got, want)
			}
		}
	})

	t.Run("SQL statements and loader batches", func(t *testing.T) {
		const sql = "shipgraph_graphql_sql_statements"
		// Two Overview queries of 2 statements each (features, their
		// builds), the count of 2 (the page and its count), and the forged
		// id costs none.
		if n, sum := delta(sql, L{"type": "query"}), after.Sum(sql, L{"type": "query"})-before.Sum(sql, L{"type": "query"}); n != 4 || sum != 6 {
			t.Errorf("queries: %v observations summing %v statements, want 4 and 6", n, sum)
		}
		// The builds of 3 features, loaded in one batch, twice.
		const batch = "shipgraph_loader_batch_size"
		if n, sum := delta(batch, L{"loader": "builds"}), after.Sum(batch, L{"loader": "builds"})-before.Sum(batch, L{"loader": "builds"}); n != 2 || sum != 6 {
			t.Errorf("builds batches: %v summing %v keys, want 2 and 6", n, sum)
		}
	})

	t.Run("HTTP requests by route pattern, method and status class", func(t *testing.T) {
		const httpd = "shipgraph_http_request_duration_seconds"
		if got := delta(httpd, L{"route": "/graphql", "method": "POST", "status": "2xx"}); got != 6 {
			t.Errorf("POST /graphql 2xx: %v, want 6", got)
		}
		if got := delta(httpd, L{"route": "/graphql", "method": "GET", "status": "1xx"}); got != 1 {
			t.Errorf("WebSocket upgrade: %v, want 1", got)
		}
		if got := delta(httpd, L{"route": "unmatched", "status": "4xx"}); got != 1 {
			t.Errorf("unmatched 4xx: %v, want 1", got)
		}
		for _, route := range after.LabelValues(httpd, "route") {
			if strings.Contains(route, "no/such") {
				t.Errorf("a raw path became a label: %q", route)
			}
		}
		// The scrapes themselves.
		if got := after.Value(httpd, L{"route": "/metrics", "method": "GET", "status": "2xx"}); got < 2 {
			t.Errorf("GET /metrics: %v", got)
		}
	})

	t.Run("WebSocket connections and subscriptions while open", func(t *testing.T) {
		if got := during.Value("shipgraph_websocket_connections", nil); got != 1 {
			t.Errorf("open connections %v, want 1", got)
		}
		if got := during.Value("shipgraph_subscriptions_active", nil); got != 1 {
			t.Errorf("active subscriptions %v, want 1", got)
		}
	})

	t.Run("pool stats, the Go runtime and the process", func(t *testing.T) {
		if got := after.Value("shipgraph_db_pool_max_connections", nil); got != 8 {
			t.Errorf("db pool max %v, want SHIPGRAPH_DB_MAX_CONNS (8)", got)
		}
		if got := after.Value("shipgraph_db_pool_acquires_total", nil); got <= before.Value("shipgraph_db_pool_acquires_total", nil) {
			t.Errorf("db pool acquires did not grow: %v", got)
		}
		if after.Has("shipgraph_redis_pool_total_connections") {
			t.Error("Redis pool stats without Redis")
		}
		for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "shipgraph_build_info"} {
			if !after.Has(name) {
				t.Errorf("no %s", name)
			}
		}
	})
}

func TestMetricsRedisPoolAndSeparateListener(t *testing.T) {
	t.Parallel()
	url := redistest.URL(t)
	s := startServer(t, map[string]string{
		"REDIS_URL": url, "SHIPGRAPH_REDIS_PREFIX": redistest.Prefix(t, url),
		"SHIPGRAPH_METRICS_ADDR": "127.0.0.1:0",
	})
	// Rate limiting goes through Redis.
	s.mustData(t, `{ features(first: 1) { totalCount } }`, nil, &struct{}{})

	// The API no longer serves /metrics; the listener it logged does.
	res, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("API /metrics: %d, want 404 with SHIPGRAPH_METRICS_ADDR set", res.StatusCode)
	}
	var addr string
	for _, line := range strings.Split(s.logs.String(), "\n") {
		var l struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "metrics listener" {
			addr = l.Addr
		}
	}
	if addr == "" {
		t.Fatalf("no metrics listener logged:\n%s", s.logs)
	}
	f := metricstest.Scrape(t, addr)
	if got := f.Value("shipgraph_redis_pool_total_connections", nil); got < 1 {
		t.Errorf("redis pool connections %v, want at least 1", got)
	}
	if got := f.Value("shipgraph_redis_pool_hits_total", nil) + f.Value("shipgraph_redis_pool_misses_total", nil); got < 1 {
		t.Errorf("redis pool hits + misses %v, want some", got)
	}
	if got := f.Value("shipgraph_graphql_operation_duration_seconds", map[string]string{"operation": "anonymous"}); got != 1 {
		t.Errorf("anonymous operations %v, want 1", got)
	}

	// The entity cache (on with Redis) reports its counters: a lookup by
	// id misses and fills, a later one hits (the fill is written back in
	// the background), and an update invalidates.
	var created struct {
		CreateFeature struct{ Feature struct{ ID string } }
	}
	s.mustData(t, `mutation { createFeature(input: {name: "cached", complexityPoints: 1}) { feature { id } } }`, nil, &created)
	id := created.CreateFeature.Feature.ID
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mustData(t, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id}, &struct{}{})
		f = metricstest.Scrape(t, addr)
		if f.Value("shipgraph_cache_hits_total", nil) >= 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, name := range []string{"shipgraph_cache_hits_total", "shipgraph_cache_misses_total", "shipgraph_cache_fills_total", "shipgraph_cache_redis_pool_total_connections"} {
		if got := f.Value(name, nil); got < 1 {
			t.Errorf("%s %v, want at least 1", name, got)
		}
	}
	s.mustData(t, `mutation($id: ID!) { updateFeature(input: {id: $id, name: "cached 2"}) { feature { id } } }`, map[string]any{"id": id}, &struct{}{})
	f = metricstest.Scrape(t, addr)
	if got := f.Value("shipgraph_cache_invalidations_total", nil); got < 1 {
		t.Errorf("cache invalidations %v, want at least 1 after an update", got)
	}
	if got := f.Value("shipgraph_cache_breaker_open", nil); got != 0 {
		t.Errorf("cache breaker open %v, want 0 with Redis up", got)
	}
}
