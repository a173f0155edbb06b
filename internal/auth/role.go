// Package auth authenticates callers with JWTs and authorizes them by role.
//
// A token is an HS256 JWT signed with the server's secret (JWT_SECRET_KEY).
// Its claims name the caller (sub) and the roles it grants (roles, an array
// of lowercase role names). The HTTP middleware turns a valid bearer token
// into a Principal in the request context; the @hasRole schema directive
// then decides, field by field, whether that principal may proceed. The
// rule of each field is written in the SDL, so clients can read it there.
package auth

import (
	"fmt"
	"strings"
)

// Role is a permission a token grants. Its values are the GraphQL enum
// values (gqlgen binds the schema's Role enum to this type); in a token's
// roles claim they are written in lowercase.
type Role string

// The roles. VIEWER reads and subscribes; EDITOR changes features, test
// cases and builds; DEPLOYER starts and cancels deployments; ADMIN may do
// everything.
const (
	RoleViewer   Role = "VIEWER"
	RoleEditor   Role = "EDITOR"
	RoleDeployer Role = "DEPLOYER"
	RoleAdmin    Role = "ADMIN"
)

// Roles lists every role, least powerful first.
var Roles = []Role{RoleViewer, RoleEditor, RoleDeployer, RoleAdmin}

// ParseRole reads a role as written in a token's roles claim: lowercase
// (viewer, editor, deployer, admin). Anything else is an error, so a typo or
// a role this server does not know never silently grants or drops access.
func ParseRole(claim string) (Role, error) {
	for _, r := range Roles {
		if claim == r.Claim() {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (want one of viewer, editor, deployer, admin)", claim)
}

// Claim returns the role as written in a token: lowercase.
func (r Role) Claim() string { return strings.ToLower(string(r)) }

// IsValid reports whether r is one of the four roles.
func (r Role) IsValid() bool {
	for _, known := range Roles {
		if r == known {
			return true
		}
	}
	return false
}
