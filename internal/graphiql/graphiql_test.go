package graphiql_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/shipgraph/shipgraph/internal/graphiql"
)

// get performs one request against h without a network listener.
func get(t *testing.T, h http.Handler, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

var (
	configBlockRE = regexp.MustCompile(`(?s)<script id="graphiql-config" type="application/json">(.*?)</script>`)
	attrURLRE     = regexp.MustCompile(`(?i)\b(?:src|href)\s*=\s*"([^"]*)"`)
)

type pageConfig struct {
	Endpoint       string `json:"endpoint"`
	DefaultQuery   string `json:"defaultQuery"`
	DefaultHeaders string `json:"defaultHeaders"`
}

// pageOf fetches "/" and returns the body and the decoded config block.
func pageOf(t *testing.T, h http.Handler) (string, pageConfig) {
	t.Helper()
	rec := get(t, h, "/", nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET / = %d, want 200", rec.Code)
	}
	body := rec.Body.String()
	m := configBlockRE.FindAllStringSubmatch(body, -1)
	if len(m) != 1 {
		t.Fatalf("want exactly one config block, found %d in:\n%s", len(m), body)
	}
	var cfg pageConfig
	if err := json.Unmarshal([]byte(m[0][1]), &cfg); err != nil {
		t.Fatalf("config block is not valid JSON: %v\n%s", err, m[0][1])
	}
	return body, cfg
}

func TestPage(t *testing.T) {
	t.Parallel()
	const query = "query Ping {\n  ping\n}"
	h := graphiql.Handler(graphiql.Config{
		Endpoint:     "/api/graphql",
		Title:        "Shipgraph API",
		DefaultQuery: query,
		Headers:      map[string]string{"Authorization": "Bearer dev-token"},
	})

	rec := get(t, h, "/", nil)
	if got := rec.Header().Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", got)
	}
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self';", "connect-src 'self' ws: wss:"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if rec.Header().Get("ETag") == "" {
		t.Error("page has no ETag")
	}

	body, cfg := pageOf(t, h)
	if !strings.Contains(body, "<title>Shipgraph API</title>") {
		t.Error("page lacks the title")
	}
	if !strings.Contains(body, `"/api/graphql"`) || cfg.Endpoint != "/api/graphql" {
		t.Errorf("endpoint not in page: config %+v", cfg)
	}
	if !strings.Contains(body, "query Ping") || cfg.DefaultQuery != query {
		t.Errorf("default query = %q, want %q", cfg.DefaultQuery, query)
	}
	var headers map[string]string
	if err := json.Unmarshal([]byte(cfg.DefaultHeaders), &headers); err != nil {
		t.Fatalf("defaultHeaders %q is not a JSON object: %v", cfg.DefaultHeaders, err)
	}
	if headers["Authorization"] != "Bearer dev-token" || len(headers) != 1 {
		t.Errorf("defaultHeaders = %v", headers)
	}

	// Conditional GET is answered from the ETag.
	rec = get(t, h, "/", map[string]string{"If-None-Match": rec.Header().Get("ETag")})
	if rec.Code != http.StatusNotModified {
		t.Errorf("conditional GET / = %d, want 304", rec.Code)
	}
}

func TestPageDefaults(t *testing.T) {
	t.Parallel()
	body, cfg := pageOf(t, graphiql.Handler(graphiql.Config{}))
	if cfg.Endpoint != "/graphql" {
		t.Errorf("default endpoint = %q, want /graphql", cfg.Endpoint)
	}
	if cfg.DefaultQuery != "" || cfg.DefaultHeaders != "" {
		t.Errorf("zero Config should leave query/headers to GraphiQL, got %+v", cfg)
	}
	if !strings.Contains(body, "<title>GraphiQL</title>") {
		t.Error("default title missing")
	}
}

func TestPageHasNoExternalURLs(t *testing.T) {
	t.Parallel()
	body, _ := pageOf(t, graphiql.Handler(graphiql.Config{DefaultQuery: "{ __typename }"}))
	if loc := regexp.MustCompile(`(?i)(https?|wss?):`).FindStringIndex(body); loc != nil {
		t.Errorf("page references an absolute URL: %q", body[loc[0]:min(len(body), loc[1]+40)])
	}
	for _, m := range attrURLRE.FindAllStringSubmatch(body, -1) {
		u, err := url.Parse(m[1])
		if err != nil {
			t.Errorf("bad URL %q: %v", m[1], err)
			continue
		}
		if u.Scheme == "data" {
			continue
		}
		if u.Scheme != "" || u.Host != "" || strings.HasPrefix(m[1], "//") {
			t.Errorf("page references another origin: %q", m[1])
		}
	}
}

func TestAssetsReferencedByPage(t *testing.T) {
	t.Parallel()
	h := graphiql.Handler(graphiql.Config{})
	body, _ := pageOf(t, h)
	base, _ := url.Parse("http://shipgraph.test/")

	seen := map[string]bool{}
	for _, m := range attrURLRE.FindAllStringSubmatch(body, -1) {
		ref, err := url.Parse(m[1])
		if err != nil {
			t.Fatalf("bad URL %q: %v", m[1], err)
		}
		if ref.Scheme == "data" {
			continue
		}
		u := base.ResolveReference(ref)
		name := path.Base(u.Path)
		seen[name] = true

		t.Run(name, func(t *testing.T) {
			t.Parallel()
			rec := get(t, h, u.RequestURI(), nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET %s = %d, want 200", u.RequestURI(), rec.Code)
			}
			wantCT := map[string]string{
				".js":  "text/javascript; charset=utf-8",
				".css": "text/css; charset=utf-8",
			}[path.Ext(name)]
			if got := rec.Header().Get("Content-Type"); got != wantCT {
				t.Errorf("Content-Type = %q, want %q", got, wantCT)
			}
			if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q", got)
			}
			if got := rec.Header().Get("Cache-Control"); !strings.Contains(got, "immutable") {
				t.Errorf("versioned asset Cache-Control = %q, want immutable", got)
			}
			identity := rec.Body.Bytes()
			if len(identity) == 0 {
				t.Fatal("empty asset")
			}

			etag := rec.Header().Get("ETag")
			if etag == "" {
				t.Fatal("asset has no ETag")
			}
			if c := get(t, h, u.RequestURI(), map[string]string{"If-None-Match": etag}).Code; c != http.StatusNotModified {
				t.Errorf("conditional GET = %d, want 304", c)
			}

			gz := get(t, h, u.RequestURI(), map[string]string{"Accept-Encoding": "gzip, br"})
			if gz.Code != http.StatusOK || gz.Header().Get("Content-Encoding") != "gzip" {
				t.Fatalf("gzip GET = %d, Content-Encoding %q", gz.Code, gz.Header().Get("Content-Encoding"))
			}
			if gz.Header().Get("ETag") == etag {
				t.Error("gzip and identity representations share an ETag")
			}
			zr, err := gzip.NewReader(gz.Body)
			if err != nil {
				t.Fatal(err)
			}
			plain, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(plain, identity) {
				t.Error("gzip body does not decompress to the identity body")
			}

			if ce := get(t, h, u.RequestURI(), map[string]string{"Accept-Encoding": "gzip;q=0"}).Header().Get("Content-Encoding"); ce != "" {
				t.Errorf("gzip;q=0 still got Content-Encoding %q", ce)
			}
		})
	}
	for _, want := range []string{
		"react.production.min.js", "react-dom.production.min.js",
		"graphiql.min.js", "graphiql.min.css", "bootstrap.js", "page.css",
	} {
		if !seen[want] {
			t.Errorf("page does not reference %s", want)
		}
	}
}

func TestUnversionedAssetRevalidates(t *testing.T) {
	t.Parallel()
	h := graphiql.Handler(graphiql.Config{})
	for _, target := range []string{"/graphiql/graphiql.min.js", "/graphiql/graphiql.min.js?v=stale"} {
		rec := get(t, h, target, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s = %d", target, rec.Code)
		}
		if got := rec.Header().Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %s Cache-Control = %q, want no-cache", target, got)
		}
	}
}

func TestLicensesServed(t *testing.T) {
	t.Parallel()
	h := graphiql.Handler(graphiql.Config{})
	for _, name := range []string{"LICENSE.graphiql", "LICENSE.react", "LICENSE.react-dom"} {
		rec := get(t, h, "/graphiql/"+name, nil)
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s = %d", name, rec.Code)
			continue
		}
		if ct := rec.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
			t.Errorf("%s Content-Type = %q", name, ct)
		}
		if !strings.Contains(rec.Body.String(), "MIT License") {
			t.Errorf("%s is not the MIT license text", name)
		}
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	t.Parallel()
	h := graphiql.Handler(graphiql.Config{})
	for _, target := range []string{
		"/graphiql/nope.js",
		"/graphiql/",
		"/graphiql/assets/graphiql.min.js",
		"/graphiql/static/bootstrap.js",
		"/graphiql/../graphiql/graphiql.min.js",
		"/index.html",
		"/graphiql",
	} {
		if c := get(t, h, target, nil).Code; c != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", target, c)
		}
	}
	for _, target := range []string{"/", "/graphiql/graphiql.min.js"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, target, strings.NewReader("{}")))
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("POST %s = %d Allow %q, want 405 GET, HEAD", target, rec.Code, rec.Header().Get("Allow"))
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/", nil))
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("HEAD / = %d with %d body bytes", rec.Code, rec.Body.Len())
	}
}

func TestHostileConfigIsEscaped(t *testing.T) {
	t.Parallel()
	const evil = `</script><script>alert(1)</script>`
	query := evil + "\n<!-- \u2028\u2029 ' \" ` ${x} &amp; \\u003c"
	headers := map[string]string{
		"X-Evil</script>": evil,
		"Authorization":   `Bearer "quoted"` + evil,
	}
	h := graphiql.Handler(graphiql.Config{
		Endpoint:     `/graphql"></script><script>alert(2)</script>`,
		Title:        `</title><script>alert(3)</script>`,
		DefaultQuery: query,
		Headers:      headers,
	})
	body, cfg := pageOf(t, h)

	for _, bad := range []string{"alert(1)</script>", "<script>alert", "</title><script>", "\u2028", "\u2029", "<!--"} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains unescaped %q", bad)
		}
	}
	// Only the template's own script elements exist.
	if n := strings.Count(strings.ToLower(body), "<script"); n != 5 {
		t.Errorf("page has %d <script elements, want 5 (config + 4 scripts)", n)
	}
	if !strings.Contains(body, "&lt;/title&gt;&lt;script&gt;alert(3)") {
		t.Error("title not HTML-escaped")
	}

	// The values round-trip exactly, so escaping did not corrupt them.
	if cfg.DefaultQuery != query {
		t.Errorf("defaultQuery = %q, want %q", cfg.DefaultQuery, query)
	}
	if cfg.Endpoint != `/graphql"></script><script>alert(2)</script>` {
		t.Errorf("endpoint = %q", cfg.Endpoint)
	}
	// The headers editor shows this text verbatim, so it must be readable,
	// not \u003c-escaped (the page-level escaping already keeps it safe).
	if !strings.Contains(cfg.DefaultHeaders, `"X-Evil</script>": "</script><script>alert(1)</script>"`) {
		t.Errorf("defaultHeaders text is not human-readable JSON: %s", cfg.DefaultHeaders)
	}
	var gotHeaders map[string]string
	if err := json.Unmarshal([]byte(cfg.DefaultHeaders), &gotHeaders); err != nil {
		t.Fatalf("defaultHeaders: %v", err)
	}
	if len(gotHeaders) != len(headers) {
		t.Errorf("defaultHeaders = %v, want %v", gotHeaders, headers)
	}
	for k, v := range headers {
		if gotHeaders[k] != v {
			t.Errorf("header %q = %q, want %q", k, gotHeaders[k], v)
		}
	}
}
