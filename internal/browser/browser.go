// Package browser protects the API from what browsers let other sites do:
// read answers cross-origin (CORS), send state-changing requests with the
// user's network position or credentials (cross-site request forgery), and
// open WebSockets to it (cross-site WebSocket hijacking).
//
// The API authenticates with bearer tokens, which a browser never attaches
// on its own, so the main defences are elsewhere: POST accepts only
// application/json, which a cross-site form cannot send without a CORS
// preflight, and GET never runs a mutation. This package adds the
// allow-list that preflights and WebSockets are checked against, and refuses
// state-changing requests from foreign origins as defence in depth.
package browser

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// The CORS answer for allowed origins. Only what the API uses is allowed:
// GraphQL over GET and POST, a bearer token, a JSON body, a request id
// that ties the browser's report to the server's logs, and the W3C trace
// context headers of a traced frontend.
const (
	allowedMethods = "GET, POST"
	allowedHeaders = "Authorization, Content-Type, X-Request-ID, traceparent, tracestate, baggage"
	// exposedHeaders are the response headers a page may read besides the
	// CORS-safelisted ones: the request and trace ids, the rate-limit
	// budget, and why a token was refused.
	exposedHeaders = "X-Request-ID, X-Trace-ID, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Used, X-RateLimit-Reset, Retry-After, WWW-Authenticate"
	// PreflightMaxAge is how long a browser may cache a preflight answer, in
	// seconds: long enough that a dashboard does not preflight every
	// request, short enough that a removed origin loses access soon.
	PreflightMaxAge = 600
)

// Policy is the set of web origins, beyond the API's own, that browsers may
// let use the API. The zero value and NewPolicy() with no origins allow no
// cross-origin access at all.
type Policy struct {
	origins map[string]bool
}

// NewPolicy returns the policy that allows origins, which should be
// normalized as ParseOrigins returns them (scheme://host[:port], lower case,
// no default port); anything else never matches what a browser sends.
func NewPolicy(origins ...string) *Policy {
	p := &Policy{origins: make(map[string]bool, len(origins))}
	for _, o := range origins {
		p.origins[o] = true
	}
	return p
}

// ParseOrigins reads a comma-separated list of origins, such as
// "https://dash.example.com, http://localhost:3000", into the normalized
// form browsers send in the Origin header. It refuses "*" and "null": a
// wildcard would let every site act with the API, and "null" is the origin
// of sandboxed frames and local files, which any site can create.
func ParseOrigins(list string) ([]string, error) {
	var out []string
	for _, raw := range strings.Split(list, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		o, err := normalizeOrigin(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// normalizeOrigin checks that s is a web origin and returns it as a browser
// serializes it.
func normalizeOrigin(s string) (string, error) {
	if s == "*" || strings.EqualFold(s, "null") {
		return "", fmt.Errorf("origin %q: list each allowed origin explicitly", s)
	}
	u, err := url.Parse(strings.TrimSuffix(s, "/"))
	if err != nil {
		return "", fmt.Errorf("origin %q: %w", s, err)
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme != "http" && scheme != "https":
		return "", fmt.Errorf("origin %q: want http:// or https://", s)
	case u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return "", fmt.Errorf("origin %q: want scheme://host[:port] and nothing else", s)
	case net.ParseIP(u.Hostname()) == nil && !hostName.MatchString(u.Hostname()):
		return "", fmt.Errorf("origin %q: the host must be a DNS name or an IP address (no wildcards)", s)
	}
	return scheme + "://" + hostWithoutDefaultPort(scheme, strings.ToLower(u.Host)), nil
}

// hostName matches DNS names (IP addresses are checked apart).
var hostName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)

// hostWithoutDefaultPort drops the port a URL of scheme implies, as
// browsers do in the Origin header.
func hostWithoutDefaultPort(scheme, host string) string {
	h, port, err := net.SplitHostPort(host)
	if err != nil {
		return host
	}
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		if strings.Contains(h, ":") {
			return "[" + h + "]"
		}
		return h
	}
	return host
}

// AllowOrigin reports whether origin, the value of an Origin header, is in
// the allow-list.
func (p *Policy) AllowOrigin(origin string) bool {
	return p != nil && p.origins[origin]
}

// OriginPatterns returns the allow-list as github.com/coder/websocket's
// AcceptOptions.OriginPatterns, which gqlgen's WebSocket transport takes:
// with their scheme, so that coder compares scheme://host exactly, and
// with path.Match's special characters (the brackets of IPv6 hosts)
// escaped. coder allows the request's own host by itself.
func (p *Policy) OriginPatterns() []string {
	if p == nil {
		return nil
	}
	out := make([]string, 0, len(p.origins))
	for o := range p.origins {
		out = append(out, patternEscaper.Replace(o))
	}
	sort.Strings(out)
	return out
}

var patternEscaper = strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)

// sameOrigin reports whether origin names the host the request was sent
// to. Only the host and port are compared, not the scheme: behind a proxy
// that terminates TLS the server cannot know it, and the Host header is the
// browser's own (a page cannot set it). A proxy that rewrites Host hides
// the public name; list the public origin in the allow-list then.
func sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	scheme := strings.ToLower(u.Scheme)
	return hostWithoutDefaultPort(scheme, strings.ToLower(u.Host)) == hostWithoutDefaultPort(scheme, strings.ToLower(r.Host))
}

// allowRequestOrigin reports whether a request that carries an Origin may
// act: it comes from the API's own origin or from an allowed one.
func (p *Policy) allowRequestOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	return p.AllowOrigin(origin) || sameOrigin(origin, r)
}

// AllowWebSocketOrigin reports whether a WebSocket upgrade may proceed.
// Browsers always send Origin on a WebSocket handshake and, unlike fetch,
// do not enforce CORS on it, so without this check any page the user opens
// could subscribe with the user's access (cross-site WebSocket hijacking).
// A request without Origin is not from a browser page and is allowed; it
// still has to authenticate like any other.
func (p *Policy) AllowWebSocketOrigin(r *http.Request) bool {
	if r.Header.Get("Origin") == "" {
		return true
	}
	return p.allowRequestOrigin(r)
}

// isPreflight reports whether r is a CORS preflight rather than an OPTIONS
// request of the API's own.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// isWebSocketUpgrade reports whether r asks to become a WebSocket.
func isWebSocketUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// safeMethod reports whether a request of this method changes nothing by
// HTTP's definition (and the API's: GET never runs a mutation).
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// Handler applies the policy in front of next:
//
//   - preflights from allowed origins, for GET or POST with the API's
//     headers, are answered 204 with the CORS headers; any other preflight
//     is refused with 403 and no CORS headers;
//   - responses to allowed origins carry Access-Control-Allow-Origin with
//     that origin (never "*") and the exposed headers; credentials
//     (cookies) are never allowed, the API does not use them;
//   - a state-changing request (POST and the like) or a WebSocket upgrade
//     whose Origin is neither the API's own nor allowed is refused with
//     403 before it reaches next.
//
// Every response varies by Origin, so caches keep the answers apart.
func (p *Policy) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		if origin == "" {
			// Not a cross-origin browser request: CORS does not apply.
			next.ServeHTTP(w, r)
			return
		}
		if isPreflight(r) {
			w.Header().Add("Vary", "Access-Control-Request-Method")
			w.Header().Add("Vary", "Access-Control-Request-Headers")
			if !p.AllowOrigin(origin) || !preflightAllowed(r) {
				refuse(w, "cross-origin request not allowed")
				return
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", allowedMethods)
			h.Set("Access-Control-Allow-Headers", allowedHeaders)
			h.Set("Access-Control-Max-Age", strconv.Itoa(PreflightMaxAge))
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if isWebSocketUpgrade(r) {
			if !p.AllowWebSocketOrigin(r) {
				refuse(w, "WebSocket from an origin that is not allowed")
				return
			}
		} else if !safeMethod(r.Method) && !p.allowRequestOrigin(r) {
			refuse(w, "cross-origin request not allowed")
			return
		}
		if p.AllowOrigin(origin) {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Expose-Headers", exposedHeaders)
		}
		next.ServeHTTP(w, r)
	})
}

// preflightAllowed reports whether the method and headers a preflight asks
// for are ones the API allows.
func preflightAllowed(r *http.Request) bool {
	switch r.Header.Get("Access-Control-Request-Method") {
	case http.MethodGet, http.MethodPost:
	default:
		return false
	}
	for _, line := range r.Header.Values("Access-Control-Request-Headers") {
		for _, name := range strings.Split(line, ",") {
			name = strings.TrimSpace(name)
			if name != "" && !allowedHeader(name) {
				return false
			}
		}
	}
	return true
}

func allowedHeader(name string) bool {
	for _, h := range strings.Split(allowedHeaders, ", ") {
		if strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}

// refuse answers 403 with a GraphQL-shaped error and no CORS headers: the
// page that sent the request cannot read it, but a developer sees it in the
// browser's network panel.
func refuse(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprintf(w, `{"errors":[{"message":%q,"extensions":{"code":"FORBIDDEN"}}]}`, msg)
}
