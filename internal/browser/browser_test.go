package browser_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/shipgraph/shipgraph/internal/browser"
)

const dash = "https://dash.example.com"

// serve sends r through the policy in front of a handler that records
// whether it was reached and answers 200.
func serve(t *testing.T, p *browser.Policy, r *http.Request) (rec *httptest.ResponseRecorder, reached bool) {
	t.Helper()
	rec = httptest.NewRecorder()
	p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached = true
		w.WriteHeader(http.StatusOK)
	})).ServeHTTP(rec, r)
	return rec, reached
}

// request builds a request to the API at api.example.com with the given
// headers, as "Name: value" pairs.
func request(method string, headers ...string) *http.Request {
	r := httptest.NewRequest(method, "http://api.example.com/graphql", strings.NewReader(`{}`))
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ": ")
		r.Header.Add(name, value)
	}
	return r
}

func corsHeaders(h http.Header) []string {
	var out []string
	for name := range h {
		if strings.HasPrefix(name, "Access-Control-") {
			out = append(out, name)
		}
	}
	return out
}

// wantRefused checks a 403 that never reached the API, carried no CORS
// header and explains itself as a GraphQL error.
func wantRefused(t *testing.T, rec *httptest.ResponseRecorder, reached bool) {
	t.Helper()
	if rec.Code != http.StatusForbidden || reached {
		t.Fatalf("status %d, reached %v; want 403 without reaching the API", rec.Code, reached)
	}
	if h := corsHeaders(rec.Header()); len(h) > 0 {
		t.Fatalf("a refusal carries CORS headers %v", h)
	}
	var body struct {
		Errors []struct {
			Message    string
			Extensions struct{ Code string }
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body.Errors) != 1 || body.Errors[0].Extensions.Code != "FORBIDDEN" {
		t.Fatalf("body %q (%v), want one FORBIDDEN error", rec.Body, err)
	}
}

func wantVaryOrigin(t *testing.T, h http.Header) {
	t.Helper()
	if !slices.Contains(h.Values("Vary"), "Origin") {
		t.Fatalf("Vary %q lacks Origin", h.Values("Vary"))
	}
}

func TestParseOrigins(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" , ", nil},
		{dash, []string{dash}},
		{"HTTPS://Dash.Example.COM/", []string{dash}},
		{"https://dash.example.com:443, http://localhost:80, http://localhost:3000", []string{dash, "http://localhost", "http://localhost:3000"}},
		{"http://127.0.0.1:5173,https://[::1]:8443", []string{"http://127.0.0.1:5173", "https://[::1]:8443"}},
		{"https://[::1]:443", []string{"https://[::1]"}},
	} {
		got, err := browser.ParseOrigins(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseOrigins(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{
		"*", "null", "NULL", "dash.example.com", "ftp://dash.example.com", "https://", "https://*.example.com",
		"https://dash.example.com/app", "https://user:pw@dash.example.com", "https://dash.example.com?x=1",
		"https://dash.example.com#x", "https://dash.example.com:http", dash + ", *", "https://da sh.example.com",
	} {
		if got, err := browser.ParseOrigins(bad); err == nil {
			t.Errorf("ParseOrigins(%q) = %q, want an error", bad, got)
		}
	}
}

func TestPreflight(t *testing.T) {
	t.Parallel()
	p := browser.NewPolicy(dash)

	t.Run("an allowed origin gets the methods, headers and max-age", func(t *testing.T) {
		t.Parallel()
		rec, reached := serve(t, p, request(http.MethodOptions, "Origin: "+dash,
			"Access-Control-Request-Method: POST", "Access-Control-Request-Headers: content-type, authorization,x-request-id"))
		if rec.Code != http.StatusNoContent || reached {
			t.Fatalf("status %d, reached %v; want 204 answered by the policy", rec.Code, reached)
		}
		h := rec.Header()
		for name, want := range map[string]string{
			"Access-Control-Allow-Origin":  dash,
			"Access-Control-Allow-Methods": "GET, POST",
			"Access-Control-Allow-Headers": "Authorization, Content-Type, X-Request-ID, traceparent, tracestate, baggage",
			"Access-Control-Max-Age":       "600",
		} {
			if got := h.Get(name); got != want {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
		if h.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("credentials allowed: the API uses bearer tokens, not cookies")
		}
		wantVaryOrigin(t, h)
	})

	t.Run("a GET preflight without extra headers is allowed", func(t *testing.T) {
		t.Parallel()
		rec, _ := serve(t, p, request(http.MethodOptions, "Origin: "+dash, "Access-Control-Request-Method: GET"))
		if rec.Code != http.StatusNoContent || rec.Header().Get("Access-Control-Allow-Origin") != dash {
			t.Fatalf("status %d, headers %v", rec.Code, rec.Header())
		}
	})

	for _, tc := range []struct{ name, origin, method, headers string }{
		{"an origin not in the list", "https://evil.example", "POST", "content-type"},
		{"a look-alike origin", "https://dash.example.com.evil.example", "POST", ""},
		{"another scheme of an allowed host", "http://dash.example.com", "POST", ""},
		{"another port of an allowed host", "https://dash.example.com:8443", "POST", ""},
		{"the null origin", "null", "POST", ""},
		{"a method the API does not serve", dash, "DELETE", ""},
		{"a header the API does not allow", dash, "POST", "content-type, x-evil"},
	} {
		t.Run("a preflight from "+tc.name+" is refused", func(t *testing.T) {
			t.Parallel()
			r := request(http.MethodOptions, "Origin: "+tc.origin, "Access-Control-Request-Method: "+tc.method)
			if tc.headers != "" {
				r.Header.Set("Access-Control-Request-Headers", tc.headers)
			}
			rec, reached := serve(t, p, r)
			wantRefused(t, rec, reached)
			wantVaryOrigin(t, rec.Header())
		})
	}

	t.Run("with an empty allow-list every preflight is refused", func(t *testing.T) {
		t.Parallel()
		for _, p := range []*browser.Policy{browser.NewPolicy(), nil} {
			rec, reached := serve(t, p, request(http.MethodOptions, "Origin: "+dash, "Access-Control-Request-Method: POST"))
			wantRefused(t, rec, reached)
		}
	})

	t.Run("an OPTIONS request that is not a preflight reaches the API", func(t *testing.T) {
		t.Parallel()
		if _, reached := serve(t, p, request(http.MethodOptions)); !reached {
			t.Fatal("not reached")
		}
	})
}

func TestCrossOriginRequests(t *testing.T) {
	t.Parallel()
	p := browser.NewPolicy(dash)

	t.Run("an allowed origin's response carries its origin, never *", func(t *testing.T) {
		t.Parallel()
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			rec, reached := serve(t, p, request(method, "Origin: "+dash, "Content-Type: application/json"))
			if !reached || rec.Code != http.StatusOK {
				t.Fatalf("%s: status %d, reached %v", method, rec.Code, reached)
			}
			if got := rec.Header().Get("Access-Control-Allow-Origin"); got != dash {
				t.Fatalf("%s: Access-Control-Allow-Origin %q", method, got)
			}
			if exp := rec.Header().Get("Access-Control-Expose-Headers"); !strings.Contains(exp, "X-Request-ID") {
				t.Fatalf("%s: Access-Control-Expose-Headers %q", method, exp)
			}
			wantVaryOrigin(t, rec.Header())
		}
	})

	t.Run("a foreign origin's GET is served without CORS headers, so the page cannot read it", func(t *testing.T) {
		t.Parallel()
		rec, reached := serve(t, p, request(http.MethodGet, "Origin: https://evil.example"))
		if !reached {
			t.Fatal("GET refused")
		}
		if h := corsHeaders(rec.Header()); len(h) > 0 {
			t.Fatalf("CORS headers %v for a foreign origin", h)
		}
		wantVaryOrigin(t, rec.Header())
	})

	for _, origin := range []string{"https://evil.example", "null", "http://dash.example.com", "not a url"} {
		t.Run("a POST from "+origin+" is refused before the API", func(t *testing.T) {
			t.Parallel()
			for _, ct := range []string{"application/json", "text/plain", ""} {
				rec, reached := serve(t, p, request(http.MethodPost, "Origin: "+origin, "Content-Type: "+ct))
				wantRefused(t, rec, reached)
			}
		})
	}

	t.Run("other state-changing methods from a foreign origin are refused", func(t *testing.T) {
		t.Parallel()
		for _, m := range []string{http.MethodPut, http.MethodPatch, http.MethodDelete} {
			rec, reached := serve(t, p, request(m, "Origin: https://evil.example"))
			wantRefused(t, rec, reached)
		}
	})

	t.Run("a same-origin POST is allowed without being listed", func(t *testing.T) {
		t.Parallel()
		for _, origin := range []string{"http://api.example.com", "https://api.example.com", "https://API.example.com:443"} {
			rec, reached := serve(t, browser.NewPolicy(), request(http.MethodPost, "Origin: "+origin))
			if !reached {
				t.Fatalf("%s: same-origin POST refused: %d", origin, rec.Code)
			}
			if h := corsHeaders(rec.Header()); len(h) > 0 {
				t.Fatalf("%s: same-origin answer carries CORS headers %v", origin, h)
			}
		}
	})

	t.Run("a POST without Origin is not from a cross-site page and reaches the API", func(t *testing.T) {
		t.Parallel()
		rec, reached := serve(t, browser.NewPolicy(), request(http.MethodPost, "Content-Type: application/json"))
		if !reached || len(corsHeaders(rec.Header())) > 0 {
			t.Fatalf("reached %v, headers %v", reached, rec.Header())
		}
		wantVaryOrigin(t, rec.Header())
	})
}

func TestAllowWebSocketOrigin(t *testing.T) {
	t.Parallel()
	p := browser.NewPolicy(dash)
	for _, tc := range []struct {
		name   string
		origin string
		want   bool
	}{
		{"no Origin: not a browser", "", true},
		{"the API's own origin", "http://api.example.com", true},
		{"the API's own origin over TLS", "https://api.example.com", true},
		{"an allowed origin", dash, true},
		{"a foreign origin", "https://evil.example", false},
		{"an allowed host with another scheme", "http://dash.example.com", false},
		{"a subdomain of the API", "https://evil.api.example.com", false},
		{"the null origin", "null", false},
		{"garbage", "%%%", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := request(http.MethodGet, "Upgrade: websocket", "Connection: Upgrade")
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			if got := p.AllowWebSocketOrigin(r); got != tc.want {
				t.Fatalf("AllowWebSocketOrigin = %v, want %v", got, tc.want)
			}
			// The middleware applies the same rule to upgrades, so the
			// WebSocket transport is covered even if it forgets to.
			rec, reached := serve(t, p, r)
			if tc.want != reached {
				t.Fatalf("middleware: reached %v, status %d", reached, rec.Code)
			}
			if !tc.want {
				wantRefused(t, rec, reached)
			}
		})
	}
}

// TestOriginPatternsForCoderWebSocket checks the wiring the WebSocket
// transport will use: coder/websocket's own origin check, given
// OriginPatterns, agrees with AllowWebSocketOrigin.
func TestOriginPatternsForCoderWebSocket(t *testing.T) {
	t.Parallel()
	p := browser.NewPolicy(dash, "http://[::1]:3000", "http://localhost:3000")
	if got, want := p.OriginPatterns(), []string{`http://\[::1\]:3000`, "http://localhost:3000", dash}; !slices.Equal(got, want) {
		t.Fatalf("OriginPatterns() = %q, want %q", got, want)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: p.OriginPatterns()})
		if err != nil {
			return // Accept has answered 403
		}
		c.Close(websocket.StatusNormalClosure, "")
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, origin := range []string{dash, "http://[::1]:3000", "http://localhost:3000", "http://" + host, "",
		"https://evil.example", "http://dash.example.com", "https://dash.example.com.evil.example", "http://[::2]:3000", "http://localhost:3001"} {
		r := httptest.NewRequest(http.MethodGet, srv.URL, nil)
		r.Host = host
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		want := p.AllowWebSocketOrigin(r)
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		c, res, err := websocket.Dial(t.Context(), "ws://"+host, &websocket.DialOptions{HTTPHeader: h})
		if err == nil {
			c.Close(websocket.StatusNormalClosure, "")
		}
		if got := err == nil; got != want {
			status := 0
			if res != nil {
				status = res.StatusCode
			}
			t.Errorf("Origin %q: coder accepted %v (status %d), AllowWebSocketOrigin %v", origin, got, status, want)
		}
	}
}
