package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// MinSecretBytes is the shortest secret accepted: RFC 7518 §3.2 requires an
// HS256 key of at least 256 bits, the size of the hash. A shorter secret
// can be brute-forced offline from a single token.
const MinSecretBytes = 32

// Leeway is how far exp and nbf may be off before a token is refused: the
// clocks of the machine that minted a token and of this server are never
// exactly in step.
const Leeway = 30 * time.Second

// maxTokenBytes bounds what Verify parses. Real tokens are a few hundred
// bytes; a megabyte of header is only ever an attempt to make us work.
const maxTokenBytes = 8 << 10

// algorithm is the only signing algorithm accepted. Accepting the header's
// choice is the root of the classic JWT attacks: "none", and an RS256
// public key used as an HMAC secret.
const algorithm = "HS256"

// Config configures an Authenticator.
type Config struct {
	// Secret is the HMAC key (JWT_SECRET_KEY), used as raw bytes; at least
	// MinSecretBytes long.
	Secret []byte
	// Issuer, when set (JWT_ISSUER), is written into minted tokens as iss,
	// and tokens without exactly this iss are refused.
	Issuer string
	// Audience, when set (JWT_AUDIENCE), is written into minted tokens as
	// aud, and tokens whose aud does not include it are refused.
	Audience string
	// Now returns the current time; time.Now when nil. Tests set it to
	// check the edges of exp, nbf and the leeway.
	Now func() time.Time
}

// Authenticator mints and verifies tokens with one secret. It is safe for
// concurrent use.
type Authenticator struct {
	cfg    Config
	parser *jwt.Parser
}

// New returns an Authenticator, or an error when the secret is too short
// to be safe.
func New(cfg Config) (*Authenticator, error) {
	if len(cfg.Secret) < MinSecretBytes {
		return nil, fmt.Errorf("the secret is %d bytes; HS256 needs at least %d (256 bits, RFC 7518 §3.2)", len(cfg.Secret), MinSecretBytes)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Secret = slices.Clone(cfg.Secret)
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{algorithm}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(cfg.Now),
		// Only canonical base64: otherwise the spare bits of the last
		// character let several spellings of one signature verify.
		jwt.WithStrictDecoding(),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	return &Authenticator{cfg: cfg, parser: jwt.NewParser(opts...)}, nil
}

// claims is the payload of a Shipgraph token.
type claims struct {
	jwt.RegisteredClaims
	// Roles are lowercase role names (see ParseRole).
	Roles []string `json:"roles"`
}

// Verify checks a token (without the "Bearer " prefix) and returns the
// principal it names. Every failure is an UNAUTHENTICATED *shipgraph.Error
// whose message says what is wrong, never what the token holds; the
// library's error is kept as its cause, for the logs.
func (a *Authenticator) Verify(token string) (Principal, error) {
	if len(token) > maxTokenBytes {
		return Principal{}, invalid("token too long", nil)
	}
	var c claims
	parsed, err := a.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) {
		return a.cfg.Secret, nil
	})
	if err != nil {
		return Principal{}, invalid(reason(parsed, err), err)
	}
	if c.Subject == "" {
		return Principal{}, invalid("token has no subject (sub)", nil)
	}
	if len(c.Roles) == 0 {
		return Principal{}, invalid("token grants no role (roles)", nil)
	}
	p := Principal{Subject: c.Subject, ExpiresAt: c.ExpiresAt.Time}
	for _, name := range c.Roles {
		r, err := ParseRole(name)
		if err != nil {
			return Principal{}, invalid("token has an unknown role", err)
		}
		if !slices.Contains(p.Roles, r) {
			p.Roles = append(p.Roles, r)
		}
	}
	return p, nil
}

// invalid is the error of a refused token.
func invalid(message string, cause error) *shipgraph.Error {
	return &shipgraph.Error{Code: shipgraph.CodeUnauthenticated, Message: "invalid token: " + message, Err: cause}
}

// reason turns a parser error into a short message for the client. The
// signature is checked before any claim, so the claim-specific messages
// only reach someone who holds a genuine token.
func reason(parsed *jwt.Token, err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	case parsed != nil && parsed.Method != nil && parsed.Method.Alg() != algorithm,
		errors.Is(err, jwt.ErrTokenUnverifiable):
		return "must be signed with " + algorithm
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "bad signature"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "not valid yet (nbf)"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		// The library says which claim only in its message ("aud claim
		// is required"); the unit tests pin that wording.
		for _, c := range []struct{ claim, name string }{{"exp", "expiry"}, {"iss", "issuer"}, {"aud", "audience"}} {
			if strings.Contains(err.Error(), c.claim+" claim is required") {
				return "no " + c.name + " (" + c.claim + ")"
			}
		}
		return "a required claim is missing"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "wrong issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "wrong audience"
	}
	return "rejected"
}

// Mint returns a signed token for subject with roles that expires after
// ttl, carrying the configured issuer and audience. Operators mint tokens
// with `shipgraph token`; dev mode mints its admin token with it.
func (a *Authenticator) Mint(subject string, roles []Role, ttl time.Duration) (string, error) {
	if subject == "" {
		return "", errors.New("a token needs a subject")
	}
	if len(roles) == 0 {
		return "", errors.New("a token needs at least one role")
	}
	if ttl <= 0 {
		return "", fmt.Errorf("the lifetime must be positive, not %s", ttl)
	}
	names := make([]string, 0, len(roles))
	for _, r := range roles {
		if !r.IsValid() {
			return "", fmt.Errorf("unknown role %q", r)
		}
		if !slices.Contains(names, r.Claim()) {
			names = append(names, r.Claim())
		}
	}
	now := a.cfg.Now()
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   subject,
			Issuer:    a.cfg.Issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Roles: names,
	}
	if a.cfg.Audience != "" {
		c.Audience = jwt.ClaimStrings{a.cfg.Audience}
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(a.cfg.Secret)
}
