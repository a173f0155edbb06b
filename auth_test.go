package main

// End-to-end tests of authentication and roles (issue 5, points 1–3 and the
// JWT and role tests of point 8): every request goes through a real server
// started by run(). The edges of the verifier with a stopped clock are in
// internal/auth.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/shipgraph/shipgraph/internal/auth"
)

// craft signs claims with any method and key, as an attacker or a foreign
// issuer would.
func craft(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// withSegment replaces segment i (0 header, 1 payload, 2 signature) of a
// token.
func withSegment(token string, i int, s string) string {
	parts := strings.Split(token, ".")
	parts[i] = s
	return strings.Join(parts, ".")
}

// wantUnauthorized checks a 401 with a GraphQL-shaped UNAUTHENTICATED body
// and the RFC 6750 challenge.
func wantUnauthorized(t *testing.T, r *gqlResponse) {
	t.Helper()
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401: %s", r.Status, r.raw)
	}
	if got := r.Header.Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
		t.Errorf("WWW-Authenticate %q", got)
	}
	if r.code() != "UNAUTHENTICATED" || r.Errors[0].Message == "" || len(r.Errors) != 1 {
		t.Errorf("body %s", r.raw)
	}
	if _, ok := keys(t, r.raw)["data"]; ok {
		t.Errorf("a refused request has a data key: %s", r.raw)
	}
}

func TestJWTAttacksOverHTTP(t *testing.T) {
	t.Parallel()
	const issuer, audience = "https://login.example.com", "shipgraph-test"
	env := map[string]string{"JWT_ISSUER": issuer, "JWT_AUDIENCE": audience}
	s := startServer(t, env)
	admin, err := auth.New(auth.Config{Secret: []byte(testJWTSecret), Issuer: issuer, Audience: audience})
	if err != nil {
		t.Fatal(err)
	}
	adminTok, err := admin.Mint("checker", []auth.Role{auth.RoleAdmin}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte(testJWTSecret)
	now := time.Now()
	// claims returns the claims of a good editor token after edit.
	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "mallory", "roles": []string{"editor"}, "iss": issuer, "aud": audience,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		if edit != nil {
			edit(c)
		}
		return c
	}
	viewer := craft(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["roles"] = []string{"viewer"} }))
	promoted := base64.RawURLEncoding.EncodeToString(must(json.Marshal(claims(func(c jwt.MapClaims) { c["roles"] = []string{"admin"} }))))
	// One character in the middle of the signature, where every bit counts.
	flipped := []byte(strings.Split(viewer, ".")[2])
	if i := len(flipped) / 2; flipped[i] == 'A' {
		flipped[i] = 'B'
	} else {
		flipped[i] = 'A'
	}

	cases := []struct {
		name   string
		header string // the whole Authorization header
		ok     bool   // accepted: the mutation runs
	}{
		{"alg none", "Bearer " + craft(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil)), false},
		{"HS512 with the server's secret", "Bearer " + craft(t, jwt.SigningMethodHS512, secret, claims(nil)), false},
		{"RS256", "Bearer " + craft(t, jwt.SigningMethodRS256, rsaKey, claims(nil)), false},
		{"tampered signature", "Bearer " + withSegment(viewer, 2, string(flipped)), false},
		{"tampered payload: viewer made admin", "Bearer " + withSegment(viewer, 1, promoted), false},
		{"forged role: signed with another key", "Bearer " + craft(t, jwt.SigningMethodHS256, []byte("another-secret-0123456789abcdef-0123"), claims(func(c jwt.MapClaims) { c["roles"] = []string{"admin"} })), false},
		{"expired beyond the leeway", "Bearer " + craft(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-auth.Leeway - time.Minute).Unix() })), false},
		{"expired within the leeway", "Bearer " + craft(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-5 * time.Second).Unix() })), true},
		{"no exp", "Bearer " + craft(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { delete(c, "exp") })), false},
		{"nbf in the future beyond the leeway", "Bearer " + craft(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["nbf"] = now.Add(auth.Leeway + time.Minute).Unix() })), false},
		{"nbf in the future within the leeway", "Bearer " + craft(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["nbf"] = now.Add(5 * time.Second).Unix() })), true},
		{"wrong issuer", "Bearer " + craft(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" })), false},
		{"no issuer", "Bearer " + craft(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { delete(c, "iss") })), false},
		{"wrong audience", "Bearer " + craft(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["aud"] = "another-api" })), false},
		{"unknown role", "Bearer " + craft(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["roles"] = []string{"editor", "superuser"} })), false},
		{"role in uppercase", "Bearer " + craft(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { c["roles"] = []string{"EDITOR"} })), false},
		{"no subject", "Bearer " + craft(t, jwt.SigningMethodHS256, secret, claims(func(c jwt.MapClaims) { delete(c, "sub") })), false},
		{"garbage bearer", "Bearer garbage", false},
		{"empty bearer", "Bearer ", false},
		{"missing Bearer prefix", craft(t, jwt.SigningMethodHS256, secret, claims(nil)), false},
		{"Basic scheme", "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:admin")), false},
		{"a good token", "Bearer " + craft(t, jwt.SigningMethodHS256, secret, claims(nil)), true},
		{"scheme in lowercase", "bearer " + craft(t, jwt.SigningMethodHS256, secret, claims(nil)), true},
	}
	// Not parallel: the exp and nbf cases are relative to when the tokens
	// were made, and on a busy machine a parallel subtest can wait for a
	// free slot longer than the 30 s leeway.
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok := token(t)
			body := jsonBody(t, `mutation($n: String!) { createFeature(input: {name: $n, complexityPoints: 1}) { feature { id } } }`, map[string]any{"n": "attack " + tok})
			req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", tc.header)
			r := doAnonymous(t, req)
			var count struct{ Features struct{ TotalCount int } }
			if c := s.postAs(t, adminTok, `query($s: String) { features(filter: {search: $s}) { totalCount } }`, map[string]any{"s": tok}); len(c.Errors) > 0 {
				t.Fatalf("count: %s", c.raw)
			} else if err := json.Unmarshal(c.Data, &count); err != nil {
				t.Fatal(err)
			}
			if tc.ok {
				if r.Status != http.StatusOK || len(r.Errors) > 0 || count.Features.TotalCount != 1 {
					t.Fatalf("refused (%d, %d written): %s", r.Status, count.Features.TotalCount, r.raw)
				}
				return
			}
			wantUnauthorized(t, r)
			if count.Features.TotalCount != 0 {
				t.Fatalf("a refused token wrote %d features", count.Features.TotalCount)
			}
			// The same over GET, for a query.
			req, _ = http.NewRequest(http.MethodGet, s.URL+"/graphql?"+url.Values{"query": {"{ features { totalCount } }"}}.Encode(), nil)
			req.Header.Set("Authorization", tc.header)
			wantUnauthorized(t, doAnonymous(t, req))
		})
	}

	t.Cleanup(func() {
		// Tokens never reach the logs, not even refused ones; the reason does.
		logs := s.logs.String()
		for _, tc := range cases {
			_, tokenPart, _ := strings.Cut(tc.header, " ")
			if parts := strings.Split(tokenPart, "."); len(parts) == 3 && len(parts[1]) > 20 && strings.Contains(logs, parts[1]) {
				t.Errorf("%s: the token is in the logs", tc.name)
			}
		}
		if strings.Contains(logs, adminTok[len(adminTok)-30:]) {
			t.Error("the admin token is in the logs")
		}
		if !strings.Contains(logs, `"msg":"token rejected"`) || !strings.Contains(logs, "expired") {
			t.Error("refused tokens are not logged with their reason")
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// fixture is what each principal of TestRolesOnEveryOperation works on.
type fixture struct {
	tok, feature, testCase, build string
}

// roleOp is one operation of the matrix.
type roleOp struct {
	name   string
	write  bool
	query  string
	vars   func(f fixture) map[string]any
	result string // the root field
}

var roleOps = []roleOp{
	// Reads.
	{"features", false, `{ features(first: 1) { totalCount } }`, nil, "features"},
	{"feature", false, `query($id: ID!) { feature(id: $id) { name } }`, func(f fixture) map[string]any { return map[string]any{"id": f.feature} }, "feature"},
	{"node", false, `query($id: ID!) { node(id: $id) { id } }`, func(f fixture) map[string]any { return map[string]any{"id": f.testCase} }, "node"},
	{"nodes", false, `query($id: ID!) { nodes(ids: [$id]) { id } }`, func(f fixture) map[string]any { return map[string]any{"id": f.build} }, "nodes"},
	{"build", false, `query($id: ID!) { build(id: $id) { number } }`, func(f fixture) map[string]any { return map[string]any{"id": f.build} }, "build"},
	{"builds", false, `{ builds(first: 1) { totalCount } }`, nil, "builds"},
	{"deployments", false, `{ deployments(first: 1) { totalCount } }`, nil, "deployments"},
	// Every mutation family, in an order in which each can succeed.
	{"createFeature", true, `mutation($n: String!) { createFeature(input: {name: $n, complexityPoints: 2}) { feature { id } } }`,
		func(f fixture) map[string]any { return map[string]any{"n": "created " + f.tok} }, "createFeature"},
	{"updateFeature", true, `mutation($id: ID!, $n: String!) { updateFeature(input: {id: $id, name: $n}) { feature { id } } }`,
		func(f fixture) map[string]any { return map[string]any{"id": f.feature, "n": "renamed " + f.tok} }, "updateFeature"},
	{"createTestCase", true, `mutation($f: ID!) { createTestCase(input: {featureId: $f, title: "another case"}) { testCase { id } } }`,
		func(f fixture) map[string]any { return map[string]any{"f": f.feature} }, "createTestCase"},
	{"updateTestCase", true, `mutation($id: ID!) { updateTestCase(input: {id: $id, status: PASSED}) { testCase { id } } }`,
		func(f fixture) map[string]any { return map[string]any{"id": f.testCase} }, "updateTestCase"},
	{"createBuild", true, `mutation($f: ID!) { createBuild(input: {featureId: $f, commitSha: "abcdef0123456", branch: "main"}) { build { id } } }`,
		func(f fixture) map[string]any { return map[string]any{"f": f.feature} }, "createBuild"},
	{"updateBuildStatus", true, `mutation($id: ID!) { updateBuildStatus(input: {id: $id, status: RUNNING}) { build { id } } }`,
		func(f fixture) map[string]any { return map[string]any{"id": f.build} }, "updateBuildStatus"},
	{"deleteTestCase", true, `mutation($id: ID!) { deleteTestCase(input: {id: $id}) { deletedTestCaseId } }`,
		func(f fixture) map[string]any { return map[string]any{"id": f.testCase} }, "deleteTestCase"},
	{"deleteFeature", true, `mutation($id: ID!) { deleteFeature(input: {id: $id}) { deletedFeatureId } }`,
		func(f fixture) map[string]any { return map[string]any{"id": f.feature} }, "deleteFeature"},
}

func TestRolesOnEveryOperation(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	principals := []struct {
		name        string
		token       string
		read, write string // the expected code; "" when allowed
	}{
		{"anonymous", "", "UNAUTHENTICATED", "UNAUTHENTICATED"},
		{"viewer", testToken(t, auth.RoleViewer), "", "FORBIDDEN"},
		{"deployer", testToken(t, auth.RoleDeployer), "", "FORBIDDEN"},
		{"viewer and deployer", testToken(t, auth.RoleViewer, auth.RoleDeployer), "", "FORBIDDEN"},
		{"editor", testToken(t, auth.RoleEditor), "", ""},
		{"admin", testToken(t, auth.RoleAdmin), "", ""},
	}
	// state is everything the mutations could change, read as the admin.
	state := func(t *testing.T, f fixture) string {
		t.Helper()
		r := s.post(t, `query($f: ID!, $s: String) {
		  feature(id: $f) { name version testCases { totalCount nodes { status version } } builds { totalCount nodes { status version } } }
		  features(filter: {search: $s}) { totalCount }
		}`, map[string]any{"f": f.feature, "s": f.tok})
		if len(r.Errors) > 0 {
			t.Fatalf("state: %s", r.raw)
		}
		return string(r.Data)
	}
	for _, p := range principals {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			tok := token(t)
			feature := s.newFeature(t, "roles "+tok, 3, "DRAFT")
			f := fixture{tok: tok, feature: feature.ID, testCase: s.newTestCase(t, feature.ID, "case "+tok), build: s.newBuild(t, feature.ID, "main").ID}
			for _, op := range roleOps {
				want := p.read
				if op.write {
					want = p.write
				}
				var vars map[string]any
				if op.vars != nil {
					vars = op.vars(f)
				}
				before := state(t, f)
				r := s.postAs(t, p.token, op.query, vars)
				if r.Status != http.StatusOK {
					t.Fatalf("%s: status %d: %s", op.name, r.Status, r.raw)
				}
				if want == "" {
					if len(r.Errors) > 0 {
						t.Fatalf("%s: %s", op.name, r.raw)
					}
					continue
				}
				if r.code() != want {
					t.Fatalf("%s: code %q, want %q: %s", op.name, r.code(), want, r.raw)
				}
				if path := r.Errors[0].Path; len(path) != 1 || path[0] != op.result {
					t.Errorf("%s: error path %v", op.name, path)
				}
				if want == "FORBIDDEN" && r.Errors[0].Message != "requires the EDITOR role" {
					t.Errorf("%s: message %q", op.name, r.Errors[0].Message)
				}
				if after := state(t, f); after != before {
					t.Fatalf("%s: a refused operation changed\n%s\ninto\n%s", op.name, before, after)
				}
			}
		})
	}
}

func TestAnonymousAccess(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	viewer := testToken(t, auth.RoleViewer)

	t.Run("__typename needs no token", func(t *testing.T) {
		t.Parallel()
		if r := s.postAs(t, "", `{ __typename }`, nil); len(r.Errors) > 0 || string(r.Data) != `{"__typename":"Query"}` {
			t.Fatalf("%s", r.raw)
		}
	})
	t.Run("a protected field answers UNAUTHENTICATED, over POST and GET", func(t *testing.T) {
		t.Parallel()
		wantError(t, s.postAs(t, "", `{ features { totalCount } }`, nil), "UNAUTHENTICATED", "")
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/graphql?"+url.Values{"query": {"{ features { totalCount } }"}}.Encode(), nil)
		wantError(t, doAnonymous(t, req), "UNAUTHENTICATED", "")
	})
	for _, q := range []string{
		`{ __schema { queryType { name } } }`,
		`{ __type(name: "Feature") { name } }`,
		`query { ...Q } fragment Q on Query { __schema { types { name } } }`,
	} {
		t.Run("introspection needs a token: "+q, func(t *testing.T) {
			t.Parallel()
			r := s.postAs(t, "", q, nil)
			if r.code() != "UNAUTHENTICATED" || len(r.Data) > 0 && string(r.Data) != "null" {
				t.Fatalf("anonymous: %s", r.raw)
			}
			if r := s.postAs(t, viewer, q, nil); len(r.Errors) > 0 {
				t.Fatalf("with a viewer token: %s", r.raw)
			}
		})
	}
	t.Run("/schema.graphql needs a token", func(t *testing.T) {
		t.Parallel()
		res, body := fetch(t, s.URL+"/schema.graphql", "")
		if res.StatusCode != http.StatusUnauthorized || strings.Contains(string(body), "type Feature") {
			t.Fatalf("anonymous: %d %.200s", res.StatusCode, body)
		}
		res, _ = fetch(t, s.URL+"/schema.graphql", "Bearer garbage")
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("garbage token: %d", res.StatusCode)
		}
		res, body = fetch(t, s.URL+"/schema.graphql", "Bearer "+viewer)
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "type Feature") {
			t.Fatalf("viewer: %d", res.StatusCode)
		}
	})
	t.Run("GraphiQL is served without a token and without a pre-filled one", func(t *testing.T) {
		t.Parallel()
		res, body := fetch(t, s.URL+"/", "")
		if res.StatusCode != http.StatusOK || strings.Contains(string(body), "Authorization") {
			t.Fatalf("%d, page mentions Authorization: %v", res.StatusCode, strings.Contains(string(body), "Authorization"))
		}
	})
}

// fetch GETs url with an optional Authorization header.
func fetch(t *testing.T, url, authorization string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res, body
}

// runWith runs the command line with env (and the test database), bounded
// in time in case it starts serving when it should not.
func runWith(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		switch k {
		case "DATABASE_URL":
			return testDB.URL
		case "SHIPGRAPH_ENV_FILE":
			return "testdata/none.env"
		}
		return ""
	}
	var out, errb bytes.Buffer
	err = run(ctx, append([]string{"shipgraph"}, args...), getenv, &out, &errb)
	if ctx.Err() != nil {
		t.Fatalf("%v did not return: it served", args)
	}
	return out.String(), errb.String(), err
}

func TestServeRefusesWeakOrMissingSecrets(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		secret string
		args   []string
		want   string
	}{
		{"no secret", "", nil, "set JWT_SECRET_KEY (≥32 bytes) or use --dev"},
		{"31 bytes", strings.Repeat("k", 31), nil, "JWT_SECRET_KEY: the secret is 31 bytes; HS256 needs at least 32"},
		{"a short secret in dev mode", "short", []string{"--dev"}, "HS256 needs at least 32"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, _, err := runWith(t, map[string]string{"JWT_SECRET_KEY": tc.secret}, append([]string{"serve", "--addr", "127.0.0.1:0"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if strings.Contains(out, "token") {
				t.Fatalf("printed a token: %q", out)
			}
		})
	}
}

func TestTokenCommand(t *testing.T) {
	t.Parallel()
	env := map[string]string{"JWT_SECRET_KEY": testJWTSecret, "JWT_ISSUER": "https://ops.example.com", "JWT_AUDIENCE": "shipgraph-ops"}

	t.Run("round-trips through the verifier and the server", func(t *testing.T) {
		t.Parallel()
		out, errOut, err := runWith(t, env, "token", "--sub", "ci-bot", "--roles", "viewer, Editor", "--ttl", "90m")
		if err != nil || errOut != "" {
			t.Fatalf("err %v, stderr %q", err, errOut)
		}
		if !regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n$`).MatchString(out) {
			t.Fatalf("stdout is not one token: %q", out)
		}
		tok := strings.TrimSpace(out)
		v, err := auth.New(auth.Config{Secret: []byte(testJWTSecret), Issuer: env["JWT_ISSUER"], Audience: env["JWT_AUDIENCE"]})
		if err != nil {
			t.Fatal(err)
		}
		p, err := v.Verify(tok)
		if err != nil {
			t.Fatal(err)
		}
		if p.Subject != "ci-bot" || !slices.Equal(p.Roles, []auth.Role{auth.RoleViewer, auth.RoleEditor}) ||
			p.ExpiresAt.Before(time.Now().Add(89*time.Minute)) || p.ExpiresAt.After(time.Now().Add(91*time.Minute)) {
			t.Fatalf("got %+v", p)
		}
		// A server that expects another audience refuses it.
		other, err := auth.New(auth.Config{Secret: []byte(testJWTSecret), Audience: "another-api"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.Verify(tok); err == nil {
			t.Fatal("verified by a server of another audience")
		}
		s := startServer(t, env)
		var created struct {
			CreateFeature struct{ Feature struct{ ID string } }
		}
		r := s.postAs(t, tok, `mutation { createFeature(input: {name: "minted by the CLI", complexityPoints: 1}) { feature { id } } }`, nil)
		if len(r.Errors) > 0 || json.Unmarshal(r.Data, &created) != nil || created.CreateFeature.Feature.ID == "" {
			t.Fatalf("%s", r.raw)
		}
	})

	t.Run("--help", func(t *testing.T) {
		t.Parallel()
		out, errOut, err := runWith(t, env, "token", "--help")
		if err != nil || !strings.Contains(out, "Usage: shipgraph token") || !strings.Contains(out, "-roles") || errOut != "" {
			t.Fatalf("err %v, stdout %q, stderr %q", err, out, errOut)
		}
	})

	short := map[string]string{"JWT_SECRET_KEY": "too-short"}
	none := map[string]string{}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no --sub", env, []string{"--roles", "viewer"}, "usage"},
		{"no --roles", env, []string{"--sub", "x"}, "usage"},
		{"unknown role", env, []string{"--sub", "x", "--roles", "viewer,root"}, `unknown role "root"`},
		{"empty role", env, []string{"--sub", "x", "--roles", "viewer,"}, "unknown role"},
		{"zero ttl", env, []string{"--sub", "x", "--roles", "viewer", "--ttl", "0s"}, "lifetime must be positive"},
		{"no secret", none, []string{"--sub", "x", "--roles", "viewer"}, "set JWT_SECRET_KEY"},
		{"short secret", short, []string{"--sub", "x", "--roles", "viewer"}, "at least 32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, _, err := runWith(t, tc.env, append([]string{"token"}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if out != "" {
				t.Fatalf("printed on stdout: %q", out)
			}
		})
	}
}

// devToken returns the token a --dev server printed.
func devToken(t *testing.T, s *testServer) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^dev admin token: (\S+)$`).FindStringSubmatch(s.stdout.String())
	if m == nil {
		t.Fatalf("no token on stdout: %q", s.stdout.String())
	}
	return m[1]
}

func TestDevMode(t *testing.T) {
	t.Parallel()

	t.Run("without a secret: a random one, an admin token, GraphiQL ready", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, map[string]string{"JWT_SECRET_KEY": ""}, "--dev")
		tok := devToken(t, s)
		if strings.Contains(s.logs.String(), tok) || strings.Contains(s.logs.String(), strings.Split(tok, ".")[2]) {
			t.Fatal("the dev token is in the logs")
		}
		if !strings.Contains(s.logs.String(), "dev mode") {
			t.Fatal("dev mode is not logged")
		}
		// The token is an admin's.
		r := s.postAs(t, tok, `mutation { createFeature(input: {name: "made in dev mode", complexityPoints: 1}) { feature { id } } }`, nil)
		if len(r.Errors) > 0 {
			t.Fatalf("%s", r.raw)
		}
		// The secret is not the tests' one: a token signed with it fails.
		wantUnauthorized(t, s.post(t, `{ features { totalCount } }`, nil))
		// GraphiQL sends it.
		res, page := fetch(t, s.URL+"/", "")
		if res.StatusCode != http.StatusOK || !strings.Contains(string(page), `Bearer `+tok) || !strings.Contains(string(page), "Authorization") {
			t.Fatalf("GraphiQL page (%d) lacks the Authorization header", res.StatusCode)
		}
		// Introspection and the SDL are open; the data is not.
		if r := s.postAs(t, "", `{ __schema { queryType { name } } }`, nil); len(r.Errors) > 0 {
			t.Fatalf("anonymous introspection: %s", r.raw)
		}
		if res, _ := fetch(t, s.URL+"/schema.graphql", ""); res.StatusCode != http.StatusOK {
			t.Fatalf("anonymous /schema.graphql: %d", res.StatusCode)
		}
		wantError(t, s.postAs(t, "", `{ features { totalCount } }`, nil), "UNAUTHENTICATED", "")
	})

	t.Run("with a secret: the token is signed with it", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, nil, "--dev")
		p, err := testAuth.Verify(devToken(t, s))
		if err != nil {
			t.Fatal(err)
		}
		if p.Subject != "dev" || !slices.Equal(p.Roles, []auth.Role{auth.RoleAdmin}) || time.Until(p.ExpiresAt) < 23*time.Hour {
			t.Fatalf("got %+v", p)
		}
	})

	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.10:0", "example.com:0"} {
		t.Run("refuses to listen on "+addr, func(t *testing.T) {
			t.Parallel()
			out, _, err := runWith(t, map[string]string{"JWT_SECRET_KEY": ""}, "serve", "--dev", "--addr", addr)
			if err == nil || !strings.Contains(err.Error(), "loopback only") {
				t.Fatalf("err %v", err)
			}
			if out != "" {
				t.Fatalf("printed %q", out)
			}
		})
	}
	t.Run("refuses a non-loopback SHIPGRAPH_ADDR", func(t *testing.T) {
		t.Parallel()
		_, _, err := runWith(t, map[string]string{"SHIPGRAPH_ADDR": "0.0.0.0:8080"}, "serve", "--dev")
		if err == nil || !strings.Contains(err.Error(), "loopback only") {
			t.Fatalf("err %v", err)
		}
	})
}

func TestIsLoopback(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "127.1.2.3:0": true, "[::1]:8080": true, "localhost:8080": true, "LOCALHOST:1": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "10.0.0.1:80": false, "example.com:80": false,
		"127.0.0.1": false, "localhost.evil.com:80": false, "": false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
