package main

// Tokens on the command line: `shipgraph token`, and what `serve` does
// with JWT_SECRET_KEY, with or without --dev. Kept apart from server.go so
// that the rules about secrets read in one place.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/shipgraph/shipgraph/internal/auth"
)

// devTokenTTL is the lifetime of the admin token --dev prints: a working
// day, so a forgotten terminal does not keep a valid admin token for long
// (a restart prints a new one).
const devTokenTTL = 24 * time.Hour

// devSubject is the sub claim of dev mode's admin token.
const devSubject = "dev"

// errNoSecret is what serve says when it has no key and no --dev.
var errNoSecret = fmt.Errorf("set JWT_SECRET_KEY (≥%d bytes) or use --dev", auth.MinSecretBytes)

// newAuthenticator builds the token verifier from the configuration.
func newAuthenticator(cfg config) (*auth.Authenticator, error) {
	if cfg.JWTSecret == "" {
		return nil, errNoSecret
	}
	a, err := auth.New(auth.Config{Secret: []byte(cfg.JWTSecret), Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience})
	if err != nil {
		return nil, fmt.Errorf("JWT_SECRET_KEY: %w", err)
	}
	return a, nil
}

// serveAuth returns serve's token verifier and, in dev mode, the headers
// GraphiQL starts with. Dev mode listens on loopback only, because it
// hands out an admin token to whoever reads the terminal and opens
// introspection; it makes up a secret when none is set, then prints an
// admin token on stdout (and logs that it did, without the token: logs are
// shipped and kept, a terminal is not).
func serveAuth(cfg config, dev bool, stdout io.Writer, log *slog.Logger) (*auth.Authenticator, map[string]string, error) {
	if !dev {
		a, err := newAuthenticator(cfg)
		return a, nil, err
	}
	if !isLoopback(cfg.Addr) {
		return nil, nil, fmt.Errorf("--dev serves on loopback only (127.0.0.1, [::1] or localhost), not %q: it prints an admin token and opens introspection", cfg.Addr)
	}
	if cfg.JWTSecret == "" {
		secret := make([]byte, auth.MinSecretBytes)
		rand.Read(secret) // never fails (crypto/rand, Go 1.24+)
		cfg.JWTSecret = string(secret)
		log.Warn("dev mode: JWT_SECRET_KEY is not set, using a random secret; tokens stop working when the server stops")
	}
	a, err := newAuthenticator(cfg)
	if err != nil {
		return nil, nil, err
	}
	token, err := a.Mint(devSubject, []auth.Role{auth.RoleAdmin}, devTokenTTL)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(stdout, "dev admin token: %s\n", token)
	log.Warn("dev mode: loopback only, introspection open, admin token printed on stdout and pre-filled in GraphiQL",
		"subject", devSubject, "expires_at", time.Now().Add(devTokenTTL).UTC().Format(time.RFC3339))
	return a, map[string]string{"Authorization": "Bearer " + token}, nil
}

// isLoopback reports whether a listen address only accepts connections
// from this machine. An empty host (":8080") listens on every interface.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// tokenCmd mints a token for operators and scripts. Only the token goes to
// stdout, so that TOKEN=$(shipgraph token …) works.
func tokenCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	fl := newFlags("token", "token --sub NAME --roles ROLE[,ROLE…] [--ttl DURATION]\n\n"+
		"Prints an HS256 access token signed with JWT_SECRET_KEY (with JWT_ISSUER and\n"+
		"JWT_AUDIENCE as iss and aud when set). Roles: viewer, editor, deployer, admin.", stdout, stderr)
	sub := fl.String("sub", "", "the subject (sub): who the token is for; required")
	roleList := fl.String("roles", "", "comma-separated roles: viewer, editor, deployer, admin; required")
	ttl := fl.Duration("ttl", time.Hour, "lifetime of the token, e.g. 15m, 1h, 720h")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 || *sub == "" || *roleList == "" {
		// Not the usage on stdout: a script reading the token must not
		// take it for one.
		fmt.Fprintln(stderr, `shipgraph token: --sub and --roles are required (see "shipgraph token --help")`)
		return errUsage
	}
	var roles []auth.Role
	for name := range strings.SplitSeq(*roleList, ",") {
		r, err := auth.ParseRole(strings.ToLower(strings.TrimSpace(name)))
		if err != nil {
			return fmt.Errorf("--roles: %w", err)
		}
		roles = append(roles, r)
	}
	a, err := newAuthenticator(cfg)
	if errors.Is(err, errNoSecret) {
		return fmt.Errorf("set JWT_SECRET_KEY to the server's secret to mint its tokens")
	}
	if err != nil {
		return err
	}
	token, err := a.Mint(*sub, roles, *ttl)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, token)
	return err
}
