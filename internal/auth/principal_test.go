package auth_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shipgraph/shipgraph/internal/auth"
)

func TestPrincipalHas(t *testing.T) {
	t.Parallel()
	v, e, d, a := auth.RoleViewer, auth.RoleEditor, auth.RoleDeployer, auth.RoleAdmin
	cases := []struct {
		roles []auth.Role
		want  map[auth.Role]bool
	}{
		{nil, map[auth.Role]bool{v: false, e: false, d: false, a: false}},
		{[]auth.Role{v}, map[auth.Role]bool{v: true, e: false, d: false, a: false}},
		{[]auth.Role{e}, map[auth.Role]bool{v: true, e: true, d: false, a: false}},
		{[]auth.Role{d}, map[auth.Role]bool{v: true, e: false, d: true, a: false}},
		{[]auth.Role{e, d}, map[auth.Role]bool{v: true, e: true, d: true, a: false}},
		{[]auth.Role{a}, map[auth.Role]bool{v: true, e: true, d: true, a: true}},
	}
	for _, tc := range cases {
		p := auth.Principal{Subject: "x", Roles: tc.roles}
		for role, want := range tc.want {
			if got := p.Has(role); got != want {
				t.Errorf("%v has %s: %v, want %v", tc.roles, role, got, want)
			}
		}
	}
}

func TestPrincipalFromContext(t *testing.T) {
	t.Parallel()
	if _, ok := auth.PrincipalFrom(context.Background()); ok {
		t.Fatal("a bare context has a principal")
	}
	want := auth.Principal{Subject: "alice", Roles: []auth.Role{auth.RoleViewer}}
	got, ok := auth.PrincipalFrom(auth.WithPrincipal(context.Background(), want))
	if !ok || got.Subject != "alice" {
		t.Fatalf("got %+v, %v", got, ok)
	}
}

// The context ends when the verifier stops accepting the token: at exp plus
// the leeway.
func TestExpiryContextEndsWhenTheTokenExpires(t *testing.T) {
	t.Parallel()
	expires := time.Now().Add(50*time.Millisecond - auth.Leeway)
	ctx := auth.WithPrincipal(context.Background(), auth.Principal{Subject: "alice", Roles: []auth.Role{auth.RoleViewer}, ExpiresAt: expires})
	ctx, cancel := auth.ExpiryContext(ctx)
	defer cancel()
	if dl, ok := ctx.Deadline(); !ok || !dl.Equal(expires.Add(auth.Leeway)) {
		t.Fatalf("deadline %v %v, want %v", dl, ok, expires.Add(auth.Leeway))
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("not cancelled at expiry")
	}
	if time.Now().Before(expires.Add(auth.Leeway)) {
		t.Fatal("cancelled before expiry")
	}
	if cause := context.Cause(ctx); !errors.Is(cause, auth.ErrTokenExpired) {
		t.Fatalf("cause %v, want ErrTokenExpired", cause)
	}
}

func TestExpiryContextFollowsItsParent(t *testing.T) {
	t.Parallel()
	t.Run("cancel before expiry", func(t *testing.T) {
		t.Parallel()
		ctx := auth.WithPrincipal(context.Background(), auth.Principal{Subject: "a", ExpiresAt: time.Now().Add(time.Hour)})
		ctx, cancel := auth.ExpiryContext(ctx)
		cancel()
		<-ctx.Done()
		if errors.Is(context.Cause(ctx), auth.ErrTokenExpired) {
			t.Fatal("a cancel is reported as an expiry")
		}
	})
	t.Run("anonymous", func(t *testing.T) {
		t.Parallel()
		parent, stop := context.WithCancel(context.Background())
		ctx, cancel := auth.ExpiryContext(parent)
		defer cancel()
		if _, ok := ctx.Deadline(); ok {
			t.Fatal("anonymous context has a deadline")
		}
		stop()
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("not cancelled with its parent")
		}
	})
	t.Run("already expired", func(t *testing.T) {
		t.Parallel()
		ctx := auth.WithPrincipal(context.Background(), auth.Principal{Subject: "a", ExpiresAt: time.Now().Add(-time.Second - auth.Leeway)})
		ctx, cancel := auth.ExpiryContext(ctx)
		defer cancel()
		select {
		case <-ctx.Done():
		default:
			t.Fatal("an expired token's context is still live")
		}
		if !errors.Is(context.Cause(ctx), auth.ErrTokenExpired) {
			t.Fatalf("cause %v", context.Cause(ctx))
		}
	})
}
