package auth

import (
	"context"
	"slices"
	"time"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// Principal is the authenticated caller of a request: who the token names
// and what it grants, until when.
type Principal struct {
	// Subject is the token's sub claim: the user or agent the token was
	// minted for. Rate limits and logs key on it.
	Subject string
	// Roles are the roles the token grants, without duplicates.
	Roles []Role
	// ExpiresAt is the token's exp claim. Work that outlives the request
	// (a subscription) must stop then: see ExpiryContext.
	ExpiresAt time.Time
}

// Has reports whether the principal may act with role: ADMIN satisfies
// every requirement, and any role satisfies VIEWER (whoever may change or
// deploy things may also read them).
func (p Principal) Has(role Role) bool {
	if slices.Contains(p.Roles, RoleAdmin) || slices.Contains(p.Roles, role) {
		return true
	}
	return role == RoleViewer && len(p.Roles) > 0
}

type principalKey struct{}

// WithPrincipal returns a context that carries p, for PrincipalFrom.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal of ctx; ok is false for an anonymous
// request (no token was sent).
func PrincipalFrom(ctx context.Context) (p Principal, ok bool) {
	p, ok = ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// ErrTokenExpired is the cause (context.Cause) of a context from
// ExpiryContext that ended because the token expired. It is an
// UNAUTHENTICATED shipgraph.Error, so it can be shown to the client as is.
var ErrTokenExpired = shipgraph.Errorf(shipgraph.CodeUnauthenticated, "token expired")

// ExpiryContext returns a context that is cancelled, with cause
// ErrTokenExpired, when the principal's token stops being accepted: at its
// exp plus the Leeway the verifier allows. A token is checked
// once, when a request arrives; a subscription can outlive it by hours, so
// it must run under this context to end when its authority does. Without a
// principal the context only ends with its parent. Call cancel when the
// work is done, as with context.WithCancel.
func ExpiryContext(ctx context.Context) (context.Context, context.CancelFunc) {
	p, ok := PrincipalFrom(ctx)
	if !ok || p.ExpiresAt.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithDeadlineCause(ctx, p.ExpiresAt.Add(Leeway), ErrTokenExpired)
}
