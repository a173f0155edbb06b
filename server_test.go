package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shipgraph/shipgraph/internal/auth"
	"github.com/shipgraph/shipgraph/internal/pgtest"
)

// testJWTSecret is the JWT_SECRET_KEY of every test server whose env does
// not set one.
const testJWTSecret = "shipgraph-tests-0123456789abcdef-0123456789"

// testAuth mints and verifies tokens the way a test server does.
var testAuth = func() *auth.Authenticator {
	a, err := auth.New(auth.Config{Secret: []byte(testJWTSecret)})
	if err != nil {
		panic(err)
	}
	return a
}()

// testToken mints a token for roles, valid for an hour.
func testToken(t *testing.T, roles ...auth.Role) string {
	t.Helper()
	token, err := testAuth.Mint("test-"+strings.ToLower(string(roles[0])), roles, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// adminToken is the token the request helpers send unless told otherwise.
var adminToken = sync.OnceValue(func() string {
	token, err := testAuth.Mint("test-admin", []auth.Role{auth.RoleAdmin}, 24*time.Hour)
	if err != nil {
		panic(err)
	}
	return token
})

var testDB *pgtest.Database

func TestMain(m *testing.M) { pgtest.Main(m, &testDB) }

// testServer is run() serving on a free port, as a user would start it.
type testServer struct {
	URL    string
	logs   *syncBuffer
	stdout *syncBuffer // what run printed on stdout (dev mode's token)
	cancel context.CancelFunc
	done   chan error
}

// syncBuffer collects the server's log output and reports the address it
// announces.
type syncBuffer struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	addrc chan string
	sent  bool
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if !b.sent {
		sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "serving" {
				b.addrc <- line.Addr
				b.sent = true
				break
			}
		}
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServer runs the serve command against the package's database and
// stops it, checking for a clean shutdown, when the test ends.
// The server's JWT_SECRET_KEY is testJWTSecret unless env sets it (to ""
// to leave it unset); the server runs no deployments unless env sets
// SHIPGRAPH_RUN_DEPLOYMENTS; args are added to the serve command line.
func startServer(t *testing.T, env map[string]string, args ...string) *testServer {
	t.Helper()
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		switch k {
		case "DATABASE_URL":
			return testDB.URL
		case "SHIPGRAPH_ENV_FILE":
			return "testdata/none.env"
		case "JWT_SECRET_KEY":
			return testJWTSecret
		case "SHIPGRAPH_DB_MAX_CONNS":
			// Many test servers share one PostgreSQL (100 connections).
			return "8"
		case "SHIPGRAPH_RUN_DEPLOYMENTS":
			// Deployments stay as the API left them unless a test asks
			// for a worker; the pipeline's own tests run it.
			return "false"
		}
		return ""
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &testServer{logs: &syncBuffer{addrc: make(chan string, 1)}, stdout: &syncBuffer{addrc: make(chan string, 1)}, cancel: cancel, done: make(chan error, 1)}
	argv := append([]string{"shipgraph", "serve", "--addr", "127.0.0.1:0"}, args...)
	go func() {
		s.done <- run(ctx, argv, getenv, s.stdout, s.logs)
	}()
	select {
	case s.URL = <-s.logs.addrc:
	case err := <-s.done:
		cancel()
		t.Fatalf("server exited before serving: %v\n%s", err, s.logs)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatalf("server did not start:\n%s", s.logs)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-s.done:
			if err != nil {
				t.Errorf("server did not shut down cleanly: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("server did not shut down")
		}
	})
	return s
}

// gqlResponse is a GraphQL response as a client sees it.
type gqlResponse struct {
	Status int
	Header http.Header
	Data   json.RawMessage
	Errors []struct {
		Message    string
		Path       []any
		Extensions map[string]any
	}
	raw []byte
}

// code returns the extensions.code of the first error, or "".
func (r *gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// post sends a GraphQL request as JSON, as the test admin.
func (s *testServer) post(t *testing.T, query string, vars map[string]any) *gqlResponse {
	t.Helper()
	return s.postAs(t, adminToken(), query, vars)
}

// postAs sends a GraphQL request as JSON with token, or without any
// Authorization header when token is "".
func (s *testServer) postAs(t *testing.T, token, query string, vars map[string]any) *gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return doAnonymous(t, req)
}

// do sends req as the test admin, unless it already carries an
// Authorization header, and decodes the JSON answer.
func do(t *testing.T, req *http.Request) *gqlResponse {
	t.Helper()
	if req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+adminToken())
	}
	return doAnonymous(t, req)
}

// doAnonymous sends req as it is: without a token unless it carries one.
func doAnonymous(t *testing.T, req *http.Request) *gqlResponse {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := &gqlResponse{Status: res.StatusCode, Header: res.Header, raw: raw}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("response is not JSON (%d): %s", res.StatusCode, raw)
	}
	return out
}

// mustData sends a request that must succeed and decodes its data into v.
func (s *testServer) mustData(t *testing.T, query string, vars map[string]any, v any) {
	t.Helper()
	r := s.post(t, query, vars)
	if len(r.Errors) > 0 || r.Status != http.StatusOK {
		t.Fatalf("unexpected errors (%d): %s", r.Status, r.raw)
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode data: %v: %s", err, r.Data)
	}
}

// createFeature creates a feature through the API and returns its id.
func (s *testServer) createFeature(t *testing.T, name string) string {
	t.Helper()
	var out struct {
		CreateFeature struct{ Feature struct{ ID string } }
	}
	s.mustData(t, `mutation($name: String!) { createFeature(input: {name: $name, complexityPoints: 3}) { feature { id } } }`,
		map[string]any{"name": name}, &out)
	return out.CreateFeature.Feature.ID
}

func TestServeAnswersHealthAndReadiness(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	for _, path := range []string{"/healthz", "/readyz"} {
		res, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d: %s", path, res.StatusCode, body)
		}
		if res.Header.Get("X-Request-ID") == "" {
			t.Errorf("%s: no X-Request-ID", path)
		}
	}
}

func TestCreateAndReadFeatureOverHTTP(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	id := s.createFeature(t, "  E2E feature  ")
	var out struct {
		Feature struct {
			Name      string
			TestCases struct{ TotalCount int }
		}
	}
	s.mustData(t, `query($id: ID!) { feature(id: $id) { name testCases { totalCount } } }`, map[string]any{"id": id}, &out)
	if out.Feature.Name != "E2E feature" || out.Feature.TestCases.TotalCount != 0 {
		t.Fatalf("got %+v", out)
	}
}

func TestGETNeverRunsAMutation(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	q := `mutation { createFeature(input: {name: "via GET", complexityPoints: 1}) { feature { id } } }`
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/graphql?query="+urlQueryEscape(q), nil)
	r := do(t, req)
	if r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "POST" {
		t.Fatalf("status %d, Allow %q: %s", r.Status, r.Header.Get("Allow"), r.raw)
	}
	var out struct{ Features struct{ TotalCount int } }
	s.mustData(t, `{ features(filter: {search: "via GET"}) { totalCount } }`, nil, &out)
	if out.Features.TotalCount != 0 {
		t.Fatalf("GET created a feature")
	}
	// A query over GET works.
	req, _ = http.NewRequest(http.MethodGet, s.URL+"/graphql?query="+urlQueryEscape(`{ features(first: 1) { totalCount } }`), nil)
	if r := do(t, req); r.Status != http.StatusOK || len(r.Errors) > 0 {
		t.Fatalf("GET query: %d %s", r.Status, r.raw)
	}
}

func urlQueryEscape(s string) string {
	return strings.NewReplacer("%", "%25", " ", "%20", "{", "%7B", "}", "%7D", "\"", "%22", ":", "%3A", "(", "%28", ")", "%29", "$", "%24", ",", "%2C", "&", "%26", "#", "%23", "+", "%2B", "\n", "%0A").Replace(s)
}

func TestValidationErrorCarriesCodeAndField(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	r := s.post(t, `mutation { createFeature(input: {name: "x", complexityPoints: 3}) { feature { id } } }`, nil)
	if r.code() != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != "name" {
		t.Fatalf("got %s", r.raw)
	}
}

func TestServeShutsDownOnCancel(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("run returned %v", err)
		}
		s.done <- nil // for the cleanup's check
	case <-time.After(20 * time.Second):
		t.Fatal("no shutdown")
	}
	if !strings.Contains(s.logs.String(), `"msg":"stopped"`) {
		t.Fatalf("no stop logged:\n%s", s.logs)
	}
	if _, err := http.Get(s.URL + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

func TestPprofIsOffByDefaultAndOnWithTheFlag(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	res, err := http.Get(s.URL + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("pprof on the API port: status %d", res.StatusCode)
	}
	if strings.Contains(s.logs.String(), "pprof enabled") {
		t.Fatal("pprof started without being asked for")
	}

	on := startServer(t, map[string]string{"SHIPGRAPH_PPROF_ADDR": "127.0.0.1:0"})
	var addr string
	for _, line := range strings.Split(on.logs.String(), "\n") {
		var entry struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "pprof enabled" {
			addr = entry.Addr
		}
	}
	if addr == "" {
		t.Fatalf("no pprof listener logged:\n%s", on.logs)
	}
	res, err = http.Get(addr + "cmdline")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("pprof: status %d", res.StatusCode)
	}
}
