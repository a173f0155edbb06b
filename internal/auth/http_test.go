package auth_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/shipgraph/shipgraph/internal/auth"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

func TestMiddleware(t *testing.T) {
	t.Parallel()
	a, err := auth.New(auth.Config{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	token, err := a.Mint("alice", []auth.Role{auth.RoleEditor}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		header  string
		status  int
		subject string // of the principal the handler sees; "" for anonymous
	}{
		{"no header", "", http.StatusOK, ""},
		{"valid", "Bearer " + token, http.StatusOK, "alice"},
		{"scheme in any case", "bEaReR " + token, http.StatusOK, "alice"},
		{"no scheme", token, http.StatusUnauthorized, ""},
		{"basic", "Basic YWxpY2U6c2VjcmV0", http.StatusUnauthorized, ""},
		{"empty bearer", "Bearer ", http.StatusUnauthorized, ""},
		{"garbage bearer", "Bearer garbage", http.StatusUnauthorized, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var rejected error
			var seen *auth.Principal
			h := auth.Middleware(a, func(r *http.Request, err error) { rejected = err }, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if p, ok := auth.PrincipalFrom(r.Context()); ok {
					seen = &p
				}
			}))
			req := httptest.NewRequest(http.MethodPost, "/graphql", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.status == http.StatusOK {
				if (seen == nil) != (tc.subject == "") || (seen != nil && seen.Subject != tc.subject) {
					t.Fatalf("principal %+v, want subject %q", seen, tc.subject)
				}
				return
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
				t.Errorf("WWW-Authenticate %q", got)
			}
			var body struct {
				Errors []struct {
					Message    string
					Extensions map[string]string
				}
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body.Errors) != 1 || body.Errors[0].Extensions["code"] != "UNAUTHENTICATED" {
				t.Fatalf("body %s (%v)", rec.Body, err)
			}
			if rejected == nil {
				t.Error("onReject not called")
			}
			if token != "" && strings.Contains(rec.Body.String(), token) {
				t.Error("the answer echoes the token")
			}
		})
	}
}

func TestRequireToken(t *testing.T) {
	t.Parallel()
	h := auth.RequireToken(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/schema.graphql", nil))
	if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") != "Bearer" {
		t.Fatalf("anonymous: %d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	rec = httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/schema.graphql", nil)
	h.ServeHTTP(rec, req.WithContext(auth.WithPrincipal(req.Context(), auth.Principal{Subject: "a", Roles: []auth.Role{auth.RoleViewer}})))
	if rec.Code != http.StatusOK {
		t.Fatalf("with a principal: %d", rec.Code)
	}
}

func TestHasRole(t *testing.T) {
	t.Parallel()
	principal := func(roles ...auth.Role) context.Context {
		return auth.WithPrincipal(context.Background(), auth.Principal{Subject: "x", Roles: roles})
	}
	cases := []struct {
		name string
		ctx  context.Context
		role auth.Role
		want shipgraph.Code // "" when the resolver runs
	}{
		{"anonymous reads", context.Background(), auth.RoleViewer, shipgraph.CodeUnauthenticated},
		{"anonymous writes", context.Background(), auth.RoleEditor, shipgraph.CodeUnauthenticated},
		{"viewer reads", principal(auth.RoleViewer), auth.RoleViewer, ""},
		{"viewer writes", principal(auth.RoleViewer), auth.RoleEditor, shipgraph.CodeForbidden},
		{"deployer edits", principal(auth.RoleDeployer), auth.RoleEditor, shipgraph.CodeForbidden},
		{"editor deploys", principal(auth.RoleEditor), auth.RoleDeployer, shipgraph.CodeForbidden},
		{"deployer deploys", principal(auth.RoleDeployer), auth.RoleDeployer, ""},
		{"editor edits", principal(auth.RoleEditor), auth.RoleEditor, ""},
		{"admin edits", principal(auth.RoleAdmin), auth.RoleEditor, ""},
		{"admin administers", principal(auth.RoleAdmin), auth.RoleAdmin, ""},
		{"editor administers", principal(auth.RoleEditor), auth.RoleAdmin, shipgraph.CodeForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ran := false
			_, err := auth.HasRole(tc.ctx, nil, func(context.Context) (any, error) { ran = true; return nil, nil }, tc.role)
			if tc.want == "" {
				if err != nil || !ran {
					t.Fatalf("err %v, ran %v", err, ran)
				}
				return
			}
			if ran {
				t.Fatal("the resolver ran")
			}
			var se *shipgraph.Error
			if !errors.As(err, &se) || se.Code != tc.want {
				t.Fatalf("err %v, want %s", err, tc.want)
			}
			if tc.want == shipgraph.CodeForbidden && se.Message != "requires the "+string(tc.role)+" role" {
				t.Errorf("message %q", se.Message)
			}
		})
	}
}

func TestIntrospectionGuard(t *testing.T) {
	t.Parallel()
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: `type Query { a: Int }`})
	cases := []struct {
		query      string
		introspect bool
	}{
		{`{ a }`, false},
		{`{ __typename a }`, false},
		{`{ __schema { types { name } } }`, true},
		{`{ __type(name: "Query") { name } }`, true},
		{`{ a ... on Query { __schema { queryType { name } } } }`, true},
		{`query { ...F } fragment F on Query { ... { __type(name: "Query") { name } } }`, true},
		{`query { ...F } fragment F on Query { a __typename }`, false},
	}
	anonymous := context.Background()
	member := auth.WithPrincipal(context.Background(), auth.Principal{Subject: "x", Roles: []auth.Role{auth.RoleViewer}})
	for _, tc := range cases {
		doc, errs := gqlparser.LoadQuery(schema, tc.query)
		if errs != nil {
			t.Fatalf("%s: %v", tc.query, errs)
		}
		op := &graphql.OperationContext{Doc: doc, Operation: doc.Operations[0]}
		err := auth.IntrospectionGuard{}.MutateOperationContext(anonymous, op)
		if (err != nil) != tc.introspect {
			t.Errorf("%s: anonymous err %v", tc.query, err)
		}
		if err != nil && err.Extensions["code"] != "UNAUTHENTICATED" {
			t.Errorf("%s: code %v", tc.query, err.Extensions["code"])
		}
		if err := (auth.IntrospectionGuard{}).MutateOperationContext(member, op); err != nil {
			t.Errorf("%s: a token holder is refused: %v", tc.query, err)
		}
		if err := (auth.IntrospectionGuard{AllowAnonymous: true}).MutateOperationContext(anonymous, op); err != nil {
			t.Errorf("%s: refused although anonymous introspection is allowed: %v", tc.query, err)
		}
	}
}
