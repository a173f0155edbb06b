package auth

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// Middleware authenticates requests by their Authorization header.
//
//   - No header: the request goes on anonymous, and fields that need a role
//     answer UNAUTHENTICATED (see HasRole). Public fields keep working.
//   - "Bearer <valid token>": the request goes on with the token's
//     Principal in its context (see PrincipalFrom).
//   - Anything else (bad, expired or forged token, another scheme): 401
//     with WWW-Authenticate: Bearer error="invalid_token" and a
//     GraphQL-shaped body, before any GraphQL work. A client that sent
//     credentials meant to use them; running its request anonymous would
//     hide the mistake behind confusing per-field errors.
//
// onReject, when not nil, is told about each refused token with the reason
// (never the token), for the log. Tokens themselves are never logged.
func Middleware(a *Authenticator, onReject func(r *http.Request, err error), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header := r.Header.Get("Authorization")
		if header == "" {
			next.ServeHTTP(w, r)
			return
		}
		p, err := a.VerifyHeader(header)
		if err != nil {
			if onReject != nil {
				onReject(r, err)
			}
			writeUnauthorized(w, err)
			return
		}
		// A request lives no longer than its token: what matters for
		// event streams, which can last hours.
		ctx, cancel := ExpiryContext(WithPrincipal(r.Context(), p))
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// VerifyHeader verifies the value of an Authorization header, "Bearer
// <token>". It is exported for transports that carry the header elsewhere
// than in the HTTP request, like the connection_init payload of a
// WebSocket.
func (a *Authenticator) VerifyHeader(header string) (Principal, error) {
	// The scheme is case-insensitive (RFC 7235 §2.1).
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return Principal{}, shipgraph.Errorf(shipgraph.CodeUnauthenticated, `the Authorization header must be "Bearer <token>"`)
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return Principal{}, invalid("empty", nil)
	}
	return a.Verify(token)
}

// writeUnauthorized answers 401 in the shape of a GraphQL response, so a
// GraphQL client shows the message like any other error.
func writeUnauthorized(w http.ResponseWriter, err error) {
	message := "invalid token"
	var se *shipgraph.Error
	if errors.As(err, &se) {
		message = se.Message
	}
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	writeError(w, http.StatusUnauthorized, message)
}

// writeError writes an UNAUTHENTICATED error as a GraphQL response body.
func writeError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{
		"message":    message,
		"extensions": map[string]string{"code": string(shipgraph.CodeUnauthenticated)},
	}}})
}

// RequireToken refuses, with 401, a request that Middleware let through
// anonymous. It guards plain HTTP resources that reveal what introspection
// does (the SDL at /schema.graphql), so that both follow one rule.
func RequireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := PrincipalFrom(r.Context()); !ok {
			// No error attribute: the request carried no credentials
			// at all (RFC 6750 §3.1).
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeError(w, http.StatusUnauthorized, errUnauthenticated.Message)
			return
		}
		next.ServeHTTP(w, r)
	})
}
