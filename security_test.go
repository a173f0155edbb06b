package main

// End-to-end tests of the browser policy, the schema-exposure switches and
// what never reaches a response or a log (issue 5, points 6 and 7). The
// unit tests of the pieces are in internal/browser and
// internal/introspection.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// sendWith sends a GraphQL POST with extra headers ("Name: value").
func (s *testServer) sendWith(t *testing.T, method, contentType string, body []byte, headers ...string) *gqlResponse {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		req.Header.Add(name, value)
	}
	return do(t, req)
}

// rawRequest sends req and returns the response with its body read.
func rawRequest(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, body
}

func hasCORSHeaders(h http.Header) bool {
	for name := range h {
		if strings.HasPrefix(name, "Access-Control-") {
			return true
		}
	}
	return false
}

func TestBrowserPolicy(t *testing.T) {
	t.Parallel()
	const dash = "https://dash.example.com"
	s := startServer(t, map[string]string{"SHIPGRAPH_CORS_ORIGINS": dash + ", http://localhost:3000"})
	closed := startServer(t, nil) // the default: no cross-origin access
	createMutation := func(tok string) []byte {
		return jsonBody(t, `mutation { createFeature(input: {name: "csrf `+tok+`", complexityPoints: 1}) { feature { id } } }`, nil)
	}

	t.Run("an allowed origin's preflight is answered", func(t *testing.T) {
		t.Parallel()
		req, _ := http.NewRequest(http.MethodOptions, s.URL+"/graphql", nil)
		req.Header.Set("Origin", dash)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		res, _ := rawRequest(t, req)
		if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != dash ||
			!strings.Contains(res.Header.Get("Access-Control-Allow-Headers"), "Authorization") ||
			res.Header.Get("Access-Control-Max-Age") == "" {
			t.Fatalf("status %d, headers %v", res.StatusCode, res.Header)
		}
		if !slices.Contains(res.Header.Values("Vary"), "Origin") {
			t.Fatalf("Vary %q", res.Header.Values("Vary"))
		}
	})

	t.Run("by default every preflight is refused", func(t *testing.T) {
		t.Parallel()
		req, _ := http.NewRequest(http.MethodOptions, closed.URL+"/graphql", nil)
		req.Header.Set("Origin", dash)
		req.Header.Set("Access-Control-Request-Method", "POST")
		res, _ := rawRequest(t, req)
		if res.StatusCode != http.StatusForbidden || hasCORSHeaders(res.Header) {
			t.Fatalf("status %d, headers %v", res.StatusCode, res.Header)
		}
	})

	t.Run("an allowed origin runs a query and may read the answer", func(t *testing.T) {
		t.Parallel()
		r := s.sendWith(t, http.MethodPost, "application/json", jsonBody(t, `{ features(first: 1) { totalCount } }`, nil), "Origin: "+dash)
		if r.Status != http.StatusOK || len(r.Errors) > 0 || r.Header.Get("Access-Control-Allow-Origin") != dash {
			t.Fatalf("%d %v %s", r.Status, r.Header, r.raw)
		}
		if vary := strings.Join(r.Header.Values("Vary"), ","); !strings.Contains(vary, "Origin") || !strings.Contains(vary, "Accept") {
			t.Fatalf("Vary %q, want Origin and Accept", vary)
		}
	})

	t.Run("a foreign origin's query is served without CORS headers, so its page cannot read it", func(t *testing.T) {
		t.Parallel()
		r := s.sendWith(t, http.MethodGet, "", nil, "Origin: https://evil.example")
		if hasCORSHeaders(r.Header) {
			t.Fatalf("CORS headers for a foreign origin: %v", r.Header)
		}
	})

	for _, tc := range []struct{ name, origin, contentType string }{
		{"a foreign origin's JSON POST", "https://evil.example", "application/json"},
		{"a foreign origin's form POST", "https://evil.example", "application/x-www-form-urlencoded"},
		{"a foreign origin's text/plain POST", "https://evil.example", "text/plain"},
		{"a sandboxed frame's POST", "null", "text/plain"},
		{"an allowed host's POST over another scheme", "http://dash.example.com", "application/json"},
	} {
		t.Run(tc.name+" is refused with 403 and writes nothing", func(t *testing.T) {
			t.Parallel()
			tok := token(t)
			for _, srv := range []*testServer{s, closed} {
				r := srv.sendWith(t, http.MethodPost, tc.contentType, createMutation(tok), "Origin: "+tc.origin)
				if r.Status != http.StatusForbidden || r.code() != "FORBIDDEN" || hasCORSHeaders(r.Header) {
					t.Fatalf("status %d, code %q, headers %v: %s", r.Status, r.code(), r.Header, r.raw)
				}
			}
			if n := s.countFeatures(t, tok); n != 0 {
				t.Fatalf("created %d features", n)
			}
		})
	}

	t.Run("a same-origin POST, as GraphiQL sends it, is served without being listed", func(t *testing.T) {
		t.Parallel()
		tok := token(t)
		r := closed.sendWith(t, http.MethodPost, "application/json", createMutation(tok), "Origin: "+closed.URL)
		if r.Status != http.StatusOK || len(r.Errors) > 0 {
			t.Fatalf("%d %s", r.Status, r.raw)
		}
		if n := closed.countFeatures(t, tok); n != 1 {
			t.Fatalf("created %d features, want 1", n)
		}
	})

	// What a cross-site page can send without a preflight, when the
	// browser omits Origin or the attacker's page is same-site: the body
	// type and the method refuse it, whatever the origin check says.
	t.Run("simple requests never change anything, even without Origin", func(t *testing.T) {
		t.Parallel()
		tok := token(t)
		mutation := `mutation { createFeature(input: {name: "csrf ` + tok + `", complexityPoints: 1}) { feature { id } } }`
		for _, tc := range []struct {
			contentType string
			body        []byte
		}{
			{"text/plain", createMutation(tok)},
			{"text/plain;charset=UTF-8", createMutation(tok)},
			{"application/x-www-form-urlencoded", []byte(url.Values{"query": {mutation}}.Encode())},
			{"multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"query\"\r\n\r\n" + mutation + "\r\n--x--\r\n")},
			{"", createMutation(tok)}, // no Content-Type at all
		} {
			r := closed.sendWith(t, http.MethodPost, tc.contentType, tc.body)
			if r.Status != http.StatusUnsupportedMediaType {
				t.Errorf("Content-Type %q: status %d, want 415: %s", tc.contentType, r.Status, r.raw)
			}
		}
		for _, origin := range []string{"", "https://evil.example"} {
			req, _ := http.NewRequest(http.MethodGet, closed.URL+"/graphql?"+url.Values{"query": {mutation}}.Encode(), nil)
			if origin != "" {
				req.Header.Set("Origin", origin)
			}
			if r := do(t, req); r.Status != http.StatusMethodNotAllowed {
				t.Errorf("GET mutation with Origin %q: status %d, want 405", origin, r.Status)
			}
		}
		if n := closed.countFeatures(t, tok); n != 0 {
			t.Fatalf("simple requests created %d features", n)
		}
	})

	t.Run("a WebSocket upgrade from a foreign origin is refused before any transport", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			origin  string
			refused bool
		}{{"https://evil.example", true}, {"null", true}, {dash, false}, {s.URL, false}, {"", false}} {
			req, _ := http.NewRequest(http.MethodGet, s.URL+"/graphql", nil)
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", "websocket")
			req.Header.Set("Sec-WebSocket-Version", "13")
			req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
			req.Header.Set("Sec-WebSocket-Protocol", "graphql-transport-ws")
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			// An accepted upgrade is a WebSocket now: close it unread.
			res.Body.Close()
			if refused := res.StatusCode == http.StatusForbidden; refused != tc.refused {
				t.Errorf("Origin %q: status %d, want refused=%v", tc.origin, res.StatusCode, tc.refused)
			}
			if !tc.refused && res.StatusCode != http.StatusSwitchingProtocols {
				t.Errorf("Origin %q: status %d, want 101", tc.origin, res.StatusCode)
			}
		}
	})

	t.Run("an invalid allow-list stops the server from starting", func(t *testing.T) {
		t.Parallel()
		for _, v := range []string{"*", "null", "dash.example.com", "https://*.example.com", "https://dash.example.com/path"} {
			env := map[string]string{"SHIPGRAPH_ENV_FILE": "testdata/none.env", "SHIPGRAPH_CORS_ORIGINS": v}
			var out, errb bytes.Buffer
			err := run(t.Context(), []string{"shipgraph", "serve"}, func(k string) string { return env[k] }, &out, &errb)
			if err == nil || !strings.Contains(err.Error(), "SHIPGRAPH_CORS_ORIGINS") {
				t.Errorf("%q: err %v", v, err)
			}
		}
	})
}

// Typos that each make the validator suggest a name of the schema.
var suggestionTypos = []string{
	`{ features(first: 1) { totalCount nodes { nam } } }`,     // field
	`{ features(firts: 1) { totalCount } }`,                   // argument
	`{ features(filter: {statu: DRAFT}) { totalCount } }`,     // input field
	`{ features(filter: {status: DRAF}) { totalCount } }`,     // enum value
	`{ ...F } fragment F on Quer { features { totalCount } }`, // type
	`{ features(orderBy: {field: NAM}) { totalCount } }`,      // enum value in a default-bearing input
	`query { features { nodes { id namee descriptio } } }`,    // two fields
}

func TestIntrospectionAndSuggestionSwitches(t *testing.T) {
	t.Parallel()
	open := startServer(t, nil)
	closed := startServer(t, map[string]string{"SHIPGRAPH_INTROSPECTION": "false", "SHIPGRAPH_FIELD_SUGGESTIONS": "false"})
	introspectionQueries := []string{
		`{ __schema { types { name } } }`,
		`{ __type(name: "Feature") { fields { name } } }`,
		`query { features(first: 1) { totalCount } ...I } fragment I on Query { __schema { queryType { name } } }`,
	}

	t.Run("by default introspection is answered", func(t *testing.T) {
		t.Parallel()
		for _, q := range introspectionQueries {
			r := open.post(t, q, nil)
			if r.Status != http.StatusOK || len(r.Errors) > 0 || !bytes.Contains(r.Data, []byte(`"name"`)) {
				t.Errorf("%s: %d %s", q, r.Status, r.raw)
			}
		}
	})

	t.Run("when off, introspection is a validation error, not an internal one", func(t *testing.T) {
		t.Parallel()
		for _, q := range introspectionQueries {
			r := closed.post(t, q, nil)
			if r.Status != http.StatusOK || r.code() != "GRAPHQL_VALIDATION_FAILED" || !strings.Contains(r.Errors[0].Message, "introspection is disabled") {
				t.Errorf("%s: %d %s", q, r.Status, r.raw)
			}
			if _, ok := keys(t, r.raw)["data"]; ok && string(r.Data) != "null" {
				t.Errorf("%s: introspection data returned: %s", q, r.raw)
			}
			r = closed.send(t, http.MethodPost, "application/json", "application/graphql-response+json", jsonBody(t, q, nil))
			if r.Status != http.StatusBadRequest {
				t.Errorf("%s as graphql-response+json: status %d, want 400", q, r.Status)
			}
			// And not over GET either.
			if r := closed.get(t, url.Values{"query": {q}}); r.code() != "GRAPHQL_VALIDATION_FAILED" {
				t.Errorf("%s over GET: %s", q, r.raw)
			}
		}
		if strings.Contains(closed.logs.String(), `"level":"ERROR"`) {
			t.Errorf("refused introspection was logged as an error:\n%s", closed.logs)
		}
	})

	t.Run("/schema.graphql follows the switch", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			s    *testServer
			want int
		}{{open, http.StatusOK}, {closed, http.StatusNotFound}} {
			req, _ := http.NewRequest(http.MethodGet, tc.s.URL+"/schema.graphql", nil)
			req.Header.Set("Authorization", "Bearer "+adminToken())
			if res, body := rawRequest(t, req); res.StatusCode != tc.want {
				t.Errorf("status %d, want %d: %.200s", res.StatusCode, tc.want, body)
			}
		}
	})

	t.Run("when off, __typename and plain queries still work", func(t *testing.T) {
		t.Parallel()
		var out struct {
			Typename string `json:"__typename"`
			Features struct {
				Typename string `json:"__typename"`
			}
		}
		closed.mustData(t, `{ __typename features(first: 1) { __typename totalCount } }`, nil, &out)
		if out.Typename != "Query" || out.Features.Typename != "FeatureConnection" {
			t.Fatalf("got %+v", out)
		}
	})

	t.Run("by default validation errors suggest names", func(t *testing.T) {
		t.Parallel()
		suggested := 0
		for _, q := range suggestionTypos {
			r := open.post(t, q, nil)
			if r.code() != "GRAPHQL_VALIDATION_FAILED" {
				t.Fatalf("%s: %s", q, r.raw)
			}
			if bytes.Contains(r.raw, []byte("Did you mean")) {
				suggested++
			}
		}
		if suggested != len(suggestionTypos) {
			t.Fatalf("%d of %d typos got a suggestion: the test below would prove nothing", suggested, len(suggestionTypos))
		}
	})

	t.Run("when off, no validation error suggests a name", func(t *testing.T) {
		t.Parallel()
		for _, q := range suggestionTypos {
			r := closed.post(t, q, nil)
			if r.code() != "GRAPHQL_VALIDATION_FAILED" || r.Errors[0].Message == "" {
				t.Errorf("%s: %s", q, r.raw)
			}
			if bytes.Contains(r.raw, []byte("Did you mean")) {
				t.Errorf("%s: suggestion in %s", q, r.raw)
			}
		}
	})

	t.Run("the switches are validated", func(t *testing.T) {
		t.Parallel()
		for _, name := range []string{"SHIPGRAPH_INTROSPECTION", "SHIPGRAPH_FIELD_SUGGESTIONS"} {
			_, err := loadConfig(func(k string) string {
				if k == name {
					return "maybe"
				}
				return ""
			})
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=maybe: err %v", name, err)
			}
		}
	})
}

// TestSecretsNeverLogged sends a recognisable bearer token in every way a
// client might, and a database password in the configuration, and checks
// that neither appears in any log line or output.
func TestSecretsNeverLogged(t *testing.T) {
	t.Parallel()

	t.Run("the Authorization header and tokens in URLs are not logged", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, map[string]string{"SHIPGRAPH_LOG_LEVEL": "debug"})
		secret := "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2VuLQ." + token(t) + "sIgNaTuRe"
		for _, tc := range []struct {
			method, path, contentType string
			body                      []byte
		}{
			{http.MethodPost, "/graphql", "application/json", jsonBody(t, `{ features(first: 1) { totalCount } }`, nil)},
			{http.MethodPost, "/graphql", "application/json", jsonBody(t, `{ features(first: 0) { totalCount } }`, nil)}, // a user error
			{http.MethodPost, "/graphql", "application/json", []byte(`{"query": `)},                                      // a malformed request
			{http.MethodPost, "/graphql", "text/plain", jsonBody(t, `{ features { totalCount } }`, nil)},                 // refused type
			{http.MethodGet, "/graphql?query=" + url.QueryEscape(`{ features(first: 1) { totalCount } }`) + "&access_token=" + secret, "", nil},
			{http.MethodGet, "/healthz?token=" + secret, "", nil},
			{http.MethodGet, "/no/such/page", "", nil},
		} {
			for _, scheme := range []string{"Bearer ", "bearer ", ""} {
				req, _ := http.NewRequest(tc.method, s.URL+tc.path, bytes.NewReader(tc.body))
				if tc.contentType != "" {
					req.Header.Set("Content-Type", tc.contentType)
				}
				req.Header.Set("Authorization", scheme+secret)
				rawRequest(t, req)
			}
		}
		logs := s.logs.String()
		if !strings.Contains(logs, `"msg":"request"`) {
			t.Fatalf("no request was logged, so this test proves nothing:\n%s", logs)
		}
		for _, part := range []string{secret, "sIgNaTuRe", "c2VjcmV0LXRva2VuLQ"} {
			if strings.Contains(logs, part) {
				t.Fatalf("the logs contain the token (%q):\n%s", part, logs)
			}
		}
	})

	t.Run("serve masks the database password", func(t *testing.T) {
		t.Parallel()
		u, err := url.Parse(testDB.URL)
		if err != nil {
			t.Fatal(err)
		}
		// The local test server trusts connections, so any password does;
		// a server that needs one has it in the URL already.
		password, ok := u.User.Password()
		if !ok {
			password = "dsn-secret-" + token(t)
			u.User = url.UserPassword(u.User.Username(), password)
		}
		// The same connection as keyword/value pairs, which pgx also takes.
		keywords := fmt.Sprintf("host=%s port=%s user=%s password='%s' dbname=%s sslmode=disable",
			u.Hostname(), u.Port(), u.User.Username(), strings.ReplaceAll(password, "'", `\'`), strings.TrimPrefix(u.Path, "/"))
		for _, dsn := range []string{u.String(), keywords} {
			s := startServer(t, map[string]string{"DATABASE_URL": dsn})
			logs := s.logs.String()
			if strings.Contains(logs, password) {
				t.Fatalf("the logs contain the password:\n%s", logs)
			}
			if !strings.Contains(logs, "xxxxx") {
				t.Fatalf("the configured database is not shown, masked:\n%s", logs)
			}
		}
	})

	t.Run("serve masks the Redis password", func(t *testing.T) {
		t.Parallel()
		password := "redis-secret-" + token(t)
		// Nothing listens there: serve logs that and counts in memory.
		s := startServer(t, map[string]string{"REDIS_URL": "redis://:" + password + "@127.0.0.1:1/0"})
		logs := s.logs.String()
		if strings.Contains(logs, password) {
			t.Fatalf("the logs contain the Redis password:\n%s", logs)
		}
		if !strings.Contains(logs, "127.0.0.1:1") {
			t.Fatalf("the unreachable Redis is not reported, so this test proves nothing:\n%s", logs)
		}
	})

	t.Run("commands that fail to connect do not print the password", func(t *testing.T) {
		t.Parallel()
		password := "dsn-secret-" + token(t)
		for _, dsn := range []string{
			"postgres://postgres:" + password + "@127.0.0.1:1/shipgraph?sslmode=disable&connect_timeout=2", // nothing listens
			"postgres://postgres:" + password + "@127.0.0.1:notaport/shipgraph",                            // unparseable
			"host=127.0.0.1 port=1 user=postgres password=" + password + " connect_timeout=2",              // keyword form
		} {
			for _, args := range [][]string{{"migrate", "up"}, {"migrate", "status"}, {"seed", "--features", "1"}, {"serve", "--addr", "127.0.0.1:0"}} {
				env := map[string]string{"SHIPGRAPH_ENV_FILE": "testdata/none.env", "DATABASE_URL": dsn, "JWT_SECRET_KEY": testJWTSecret}
				var out, errb bytes.Buffer
				err := run(t.Context(), append([]string{"shipgraph"}, args...), func(k string) string { return env[k] }, &out, &errb)
				if err == nil {
					t.Fatalf("%v with %q: no error", args, dsn)
				}
				// main prints the error; check what it would print too.
				for what, text := range map[string]string{"error": err.Error(), "stdout": out.String(), "stderr": errb.String()} {
					if strings.Contains(text, password) {
						t.Errorf("%v: %s shows the password: %s", args, what, text)
					}
				}
				if errors.Is(err, errUsage) {
					t.Errorf("%v: usage error %v", args, err)
				}
			}
		}
	})

	t.Run("the JWT secret is neither logged nor echoed when refused", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, map[string]string{"SHIPGRAPH_LOG_LEVEL": "debug"})
		s.post(t, `{ features(first: 1) { totalCount } }`, nil)
		if logs := s.logs.String(); strings.Contains(logs, testJWTSecret) {
			t.Fatalf("the logs contain JWT_SECRET_KEY:\n%s", logs)
		}
		short := "short-" + token(t)
		env := map[string]string{"SHIPGRAPH_ENV_FILE": "testdata/none.env", "DATABASE_URL": testDB.URL, "JWT_SECRET_KEY": short}
		var out, errb bytes.Buffer
		err := run(t.Context(), []string{"shipgraph", "serve", "--addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, &out, &errb)
		if err == nil {
			t.Fatal("a short secret was accepted")
		}
		for what, text := range map[string]string{"error": err.Error(), "stdout": out.String(), "stderr": errb.String()} {
			if strings.Contains(text, short) {
				t.Errorf("%s echoes the secret: %s", what, text)
			}
		}
	})

	t.Run("redactURL masks passwords and hides unparseable URLs", func(t *testing.T) {
		t.Parallel()
		for in, want := range map[string]string{
			"postgres://u:pw@h:5432/db?sslmode=disable":              "postgres://u:xxxxx@h:5432/db?sslmode=disable",
			"postgres://u@h/db":                                      "postgres://u@h/db",
			"postgres://u:pw@h:notaport/db":                          "(unparseable URL)",
			"postgresql://u@h/db?password=pw&sslmode=disable":        "postgresql://u@h/db?password=xxxxx&sslmode=disable",
			"postgres://u@h/db?sslpassword=pw":                       "postgres://u@h/db?sslpassword=xxxxx",
			"host=h user=u password=pw dbname=db":                    "host=h user=u password=xxxxx dbname=db",
			"host=h password = 'p w\\' x' dbname=db sslpassword=pw2": "host=h password = xxxxx dbname=db sslpassword=xxxxx",
		} {
			if got := redactURL(in); got != want {
				t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
			}
		}
	})
}
