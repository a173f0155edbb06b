package auth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/shipgraph/shipgraph/internal/auth"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

var (
	secret      = []byte("0123456789abcdef0123456789abcdef") // exactly 32 bytes
	otherSecret = []byte("fedcba9876543210fedcba9876543210")
	now         = time.Date(2026, 11, 5, 12, 0, 0, 0, time.UTC)
)

// newAuth returns an Authenticator whose clock is stopped at now.
func newAuth(t *testing.T, cfg auth.Config) *auth.Authenticator {
	t.Helper()
	if cfg.Secret == nil {
		cfg.Secret = secret
	}
	cfg.Now = func() time.Time { return now }
	a, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// sign signs claims with method and key, as an attacker or another issuer
// would.
func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// valid returns the claims of a good token, which each case then spoils.
func valid() jwt.MapClaims {
	return jwt.MapClaims{"sub": "alice", "roles": []string{"editor"}, "exp": now.Add(time.Hour).Unix(), "iat": now.Unix()}
}

func with(c jwt.MapClaims, edit func(jwt.MapClaims)) jwt.MapClaims {
	edit(c)
	return c
}

// segment replaces segment i of a token with s.
func segment(token string, i int, s string) string {
	parts := strings.Split(token, ".")
	parts[i] = s
	return strings.Join(parts, ".")
}

func TestNewRefusesShortSecrets(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, 16, 31} {
		_, err := auth.New(auth.Config{Secret: make([]byte, n)})
		if err == nil || !strings.Contains(err.Error(), "at least 32") {
			t.Errorf("%d bytes: err %v", n, err)
		}
	}
	if _, err := auth.New(auth.Config{Secret: make([]byte, 32)}); err != nil {
		t.Errorf("32 bytes refused: %v", err)
	}
}

func TestVerifyRefusesEveryAttack(t *testing.T) {
	t.Parallel()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	plain := newAuth(t, auth.Config{})
	strict := newAuth(t, auth.Config{Issuer: "https://issuer.example", Audience: "shipgraph"})
	good := sign(t, jwt.SigningMethodHS256, secret, valid())

	cases := []struct {
		name  string
		auth  *auth.Authenticator
		token string
		want  string // in the message
	}{
		{"alg none", plain, sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid()), "HS256"},
		{"alg none with the signature stripped from a good token", plain,
			segment(segment(good, 0, base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))), 2, ""), "HS256"},
		{"unknown alg", plain, segment(good, 0, base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"XX999","typ":"JWT"}`))), "HS256"},
		{"HS512 with the right secret", plain, sign(t, jwt.SigningMethodHS512, secret, valid()), "HS256"},
		{"RS256", plain, sign(t, jwt.SigningMethodRS256, rsaKey, valid()), "HS256"},
		{"tampered signature", plain, segment(good, 2, tamper(strings.Split(good, ".")[2])), "signature"},
		{"tampered payload", plain, segment(good, 1, base64.RawURLEncoding.EncodeToString([]byte(
			`{"sub":"alice","roles":["admin"],"exp":`+strconv.FormatInt(now.Add(time.Hour).Unix(), 10)+`}`))), "signature"},
		{"signature respelled in non-canonical base64", plain, segment(good, 2, respell(strings.Split(good, ".")[2])), "malformed"},
		{"signed with another key", plain, sign(t, jwt.SigningMethodHS256, otherSecret, with(valid(), func(c jwt.MapClaims) { c["roles"] = []string{"admin"} })), "signature"},
		{"expired beyond the leeway", plain, sign(t, jwt.SigningMethodHS256, secret, with(valid(), func(c jwt.MapClaims) { c["exp"] = now.Add(-auth.Leeway - time.Second).Unix() })), "expired"},
		{"no exp", plain, sign(t, jwt.SigningMethodHS256, secret, with(valid(), func(c jwt.MapClaims) { delete(c, "exp") })), "exp"},
		{"exp not a number", plain, sign(t, jwt.SigningMethodHS256, secret, with(valid(), func(c jwt.MapClaims) { c["exp"] = "tomorrow" })), ""},
		{"nbf beyond the leeway", plain, sign(t, jwt.SigningMethodHS256, secret, with(valid(), func(c jwt.MapClaims) { c["nbf"] = now.Add(auth.Leeway + time.Second).Unix() })), "not valid yet"},
		{"no issuer when one is required", strict, sign(t, jwt.SigningMethodHS256, secret, with(valid(), func(c jwt.MapClaims) { c["aud"] = "shipgraph" })), "issuer"},
		{"wrong issuer", strict, sign(t, jwt.SigningMethodHS256, secret, with(valid(), func(c jwt.MapClaims) { c["aud"] = "shipgraph"; c["iss"] = "https://evil.example" })), "issuer"},
		{"wrong audience", strict, sign(t, jwt.SigningMethodHS256, secret, with(valid(), func(c jwt.MapClaims) { c["iss"] = "https://issuer.example"; c["aud"] = "other" })), "audience"},
		{"no audience when one is required", strict, sign(t, jwt.SigningMethodHS256, secret, with(valid(), func(c jwt.MapClaims) { c["iss"] = "https://issuer.example" })), "audience"},
		{"unknown role", plain, sign(t, jwt.SigningMethodHS256, secret, with(valid(), func(c jwt.MapClaims) { c["roles"] = []string{"viewer", "root"} })), "unknown role"},
		{"uppercase role", plain, sign(t, jwt.SigningMethodHS256, secret, with(valid(), func(c jwt.MapClaims) { c["roles"] = []string{"ADMIN"} })), "unknown role"},
		{"roles not an array", plain, sign(t, jwt.SigningMethodHS256, secret, with(valid(), func(c jwt.MapClaims) { c["roles"] = "admin" })), "malformed"},
		{"no roles", plain, sign(t, jwt.SigningMethodHS256, secret, with(valid(), func(c jwt.MapClaims) { delete(c, "roles") })), "no role"},
		{"no subject", plain, sign(t, jwt.SigningMethodHS256, secret, with(valid(), func(c jwt.MapClaims) { delete(c, "sub") })), "subject"},
		{"garbage", plain, "not-a-jwt", "malformed"},
		{"two segments", plain, strings.Join(strings.Split(good, ".")[:2], "."), "malformed"},
		{"empty", plain, "", "malformed"},
		{"huge", plain, strings.Repeat("a", 9000), "too long"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := tc.auth.Verify(tc.token)
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			var se *shipgraph.Error
			if !errors.As(err, &se) || se.Code != shipgraph.CodeUnauthenticated {
				t.Fatalf("err %v, want UNAUTHENTICATED", err)
			}
			if !strings.Contains(se.Message, tc.want) {
				t.Errorf("message %q lacks %q", se.Message, tc.want)
			}
			if strings.Contains(se.Message, tc.token) && tc.token != "" {
				t.Errorf("message echoes the token: %q", se.Message)
			}
		})
	}
}

// tamper changes one character in the middle of a base64url string, where
// every bit counts.
func tamper(s string) string {
	b := []byte(s)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// respell flips a spare bit of the last character of a 32-byte base64url
// value: a lenient decoder reads the same bytes, a strict one refuses.
func respell(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[last^1])
}

func TestVerifyAcceptsWithinTheLeeway(t *testing.T) {
	t.Parallel()
	a := newAuth(t, auth.Config{Issuer: "https://issuer.example", Audience: "shipgraph"})
	cases := []struct {
		name  string
		edit  func(jwt.MapClaims)
		roles []auth.Role
	}{
		{"expired within the leeway", func(c jwt.MapClaims) { c["exp"] = now.Add(-auth.Leeway + time.Second).Unix() }, []auth.Role{auth.RoleEditor}},
		{"nbf within the leeway", func(c jwt.MapClaims) { c["nbf"] = now.Add(auth.Leeway - time.Second).Unix() }, []auth.Role{auth.RoleEditor}},
		{"nbf in the past", func(c jwt.MapClaims) { c["nbf"] = now.Add(-time.Hour).Unix() }, []auth.Role{auth.RoleEditor}},
		{"audience among several", func(c jwt.MapClaims) { c["aud"] = []string{"other", "shipgraph"} }, []auth.Role{auth.RoleEditor}},
		{"duplicate roles", func(c jwt.MapClaims) { c["roles"] = []string{"viewer", "deployer", "viewer"} }, []auth.Role{auth.RoleViewer, auth.RoleDeployer}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := valid()
			c["iss"], c["aud"] = "https://issuer.example", "shipgraph"
			tc.edit(c)
			p, err := a.Verify(sign(t, jwt.SigningMethodHS256, secret, c))
			if err != nil {
				t.Fatal(err)
			}
			if p.Subject != "alice" || !slices.Equal(p.Roles, tc.roles) {
				t.Errorf("got %+v", p)
			}
		})
	}
}

func TestMintRoundTrips(t *testing.T) {
	t.Parallel()
	for _, cfg := range []auth.Config{{}, {Issuer: "https://issuer.example", Audience: "shipgraph"}} {
		a := newAuth(t, cfg)
		token, err := a.Mint("bot", []auth.Role{auth.RoleViewer, auth.RoleEditor, auth.RoleViewer}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		p, err := a.Verify(token)
		if err != nil {
			t.Fatal(err)
		}
		want := auth.Principal{Subject: "bot", Roles: []auth.Role{auth.RoleViewer, auth.RoleEditor}, ExpiresAt: now.Add(time.Hour)}
		if p.Subject != want.Subject || !slices.Equal(p.Roles, want.Roles) || !p.ExpiresAt.Equal(want.ExpiresAt) {
			t.Errorf("%+v: got %+v, want %+v", cfg, p, want)
		}
		// Another server's configuration does not accept it.
		other := newAuth(t, auth.Config{Secret: otherSecret, Issuer: cfg.Issuer, Audience: cfg.Audience})
		if _, err := other.Verify(token); err == nil {
			t.Errorf("%+v: verified with another secret", cfg)
		}
	}
}

func TestMintRefusesNonsense(t *testing.T) {
	t.Parallel()
	a := newAuth(t, auth.Config{})
	cases := []struct {
		name  string
		sub   string
		roles []auth.Role
		ttl   time.Duration
	}{
		{"no subject", "", []auth.Role{auth.RoleViewer}, time.Hour},
		{"no role", "bot", nil, time.Hour},
		{"unknown role", "bot", []auth.Role{"ROOT"}, time.Hour},
		{"zero ttl", "bot", []auth.Role{auth.RoleViewer}, 0},
		{"negative ttl", "bot", []auth.Role{auth.RoleViewer}, -time.Minute},
	}
	for _, tc := range cases {
		if _, err := a.Mint(tc.sub, tc.roles, tc.ttl); err == nil {
			t.Errorf("%s: minted", tc.name)
		}
	}
}

func TestParseRole(t *testing.T) {
	t.Parallel()
	for _, r := range auth.Roles {
		got, err := auth.ParseRole(strings.ToLower(string(r)))
		if err != nil || got != r {
			t.Errorf("%s: got %q, %v", r, got, err)
		}
	}
	for _, bad := range []string{"", "VIEWER", "Admin", "root", " viewer"} {
		if _, err := auth.ParseRole(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
