// Package graphiql serves the GraphiQL IDE entirely from files embedded in
// the binary, so the playground works on air-gapped hosts and never pulls
// code from a CDN at run time.
//
// The vendored bundles in assets/ are written by scripts/update-graphiql.sh
// (graphiql@4.1.2, react@18.2.0, react-dom@18.2.0, with their licenses); the
// small bootstrap script and page stylesheet in static/ are ours.
//
// Subscriptions: graphiql's UMD bundle contains the graphql-ws client, and
// the bootstrap passes GraphiQL.createFetcher a subscriptionUrl derived from
// window.location (ws://host/<endpoint> or wss:// under https), so
// subscription operations run over WebSocket with the graphql-transport-ws
// protocol on the same path as the HTTP endpoint.
package graphiql

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// files holds the vendored GraphiQL/React bundles (assets/) and our own
// bootstrap files (static/). They share one URL namespace under /graphiql/.
//
//go:embed assets/* static/*
var files embed.FS

// assetPrefix is the URL path, relative to the handler root, under which
// every embedded file is served.
const assetPrefix = "/graphiql/"

// Defaults applied by Handler for zero Config fields, so a zero Config gives
// a working page for the conventional endpoint.
const (
	defaultEndpoint = "/graphql"
	defaultTitle    = "GraphiQL"
)

// Config tunes the rendered GraphiQL page. Every field is optional; the page
// is rendered once by Handler, so later changes to a Config (or its Headers
// map) have no effect on a handler already built.
type Config struct {
	// Endpoint is the GraphQL HTTP path, e.g. "/graphql" (the default when
	// empty). The browser resolves it against the page URL, and the
	// WebSocket URL for subscriptions is derived from the result
	// (http→ws, https→wss, same host and path). It should be same-origin:
	// the page's Content-Security-Policy only allows connecting to 'self'
	// (plus ws:/wss:).
	Endpoint string
	// Title is the HTML document title; "GraphiQL" when empty.
	Title string
	// DefaultQuery is the query shown in the default tab. GraphiQL only uses
	// it when the browser has no saved tabs for this origin (localStorage);
	// empty means GraphiQL's own welcome text.
	DefaultQuery string
	// Headers pre-fills the request headers editor (for example an
	// Authorization header in dev mode). GraphiQL sends them with every HTTP
	// request and as the connection_init payload of subscription sockets.
	// They are embedded in the page, so never put production secrets here.
	// May be nil or empty.
	Headers map[string]string
}

// Handler returns an http.Handler that serves the GraphiQL page at "/" and
// the embedded assets at "/graphiql/<name>" (GET and HEAD only). The page
// refers to its assets with relative URLs, so the handler can be mounted at
// the server root or under a prefix with http.StripPrefix, as long as the
// page URL ends in "/".
//
// The page is rendered once here: configuration values are JSON-encoded by
// html/template into a non-executable application/json block, read by the
// static bootstrap script, so the page needs no inline script and its
// Content-Security-Policy can stay at script-src 'self'.
//
// Asset URLs carry a content hash (?v=...). Requests with the current hash
// are cacheable for a year as immutable; any other request gets no-cache
// plus a strong ETag, so upgrading the vendored files can never leave a
// browser on stale code. JS and CSS are gzip-compressed when the client
// accepts it (about 1.6 MB raw, about 0.67 MB on the wire).
func Handler(cfg Config) http.Handler {
	as := loadAssets()
	page, err := renderPage(cfg, as)
	if err != nil {
		// The template is fixed and the data is plain strings, so this is a
		// programming error, not a runtime condition callers could handle.
		panic(fmt.Sprintf("graphiql: render page: %v", err))
	}
	sum := sha256.Sum256(page)
	return &handler{
		page:     page,
		pageETag: `"` + hex.EncodeToString(sum[:16]) + `"`,
		assets:   as,
	}
}

// contentSecurityPolicy confines the page to its own origin: scripts and
// styles only from 'self' (the embedded assets), fonts and images also from
// data: URIs because graphiql.min.css inlines its fonts and a few images.
// style-src needs 'unsafe-inline' because GraphiQL's UI libraries inject
// <style> elements at run time. connect-src lists ws:/wss: explicitly since
// not every browser lets 'self' match WebSocket URLs.
const contentSecurityPolicy = "default-src 'none'; " +
	"script-src 'self'; " +
	"style-src 'self' 'unsafe-inline'; " +
	"font-src 'self' data:; " +
	"img-src 'self' data:; " +
	"connect-src 'self' ws: wss:; " +
	"base-uri 'none'; " +
	"form-action 'none'; " +
	"frame-ancestors 'self'"

// immutableCache is sent for asset requests whose ?v= matches the content
// hash: that URL can never change content, so browsers need not revalidate.
const immutableCache = "public, max-age=31536000, immutable"

// pageTemplate is the HTML shell. Asset URLs are relative (see Handler).
// The favicon link avoids a pointless /favicon.ico request. The config block
// is type application/json: html/template JSON-encodes the value in it (with
// <, >, & and U+2028/9 escaped), and browsers never execute it.
var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Title}}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{.URL "graphiql.min.css"}}">
<link rel="stylesheet" href="{{.URL "page.css"}}">
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script id="graphiql-config" type="application/json">{{.Config}}</script>
<script src="{{.URL "react.production.min.js"}}"></script>
<script src="{{.URL "react-dom.production.min.js"}}"></script>
<script src="{{.URL "graphiql.min.js"}}"></script>
<script src="{{.URL "bootstrap.js"}}"></script>
</body>
</html>
`))

// pageConfig is what bootstrap.js reads from the JSON block; the JSON names
// match GraphiQL's prop names where they map directly.
type pageConfig struct {
	Endpoint       string `json:"endpoint"`
	DefaultQuery   string `json:"defaultQuery,omitempty"`
	DefaultHeaders string `json:"defaultHeaders,omitempty"` // JSON text, as GraphiQL's headers editor expects
}

// pageData is the template's dot. URL is a method so the template cannot
// reference an asset that is not embedded without failing to render.
type pageData struct {
	Title  string
	Config pageConfig
	assets map[string]*asset
}

// URL returns the versioned relative URL of the embedded asset name.
func (d pageData) URL(name string) (string, error) {
	a, ok := d.assets[name]
	if !ok {
		return "", fmt.Errorf("no embedded asset %q", name)
	}
	return strings.TrimPrefix(assetPrefix, "/") + name + "?v=" + a.version, nil
}

func renderPage(cfg Config, as map[string]*asset) ([]byte, error) {
	data := pageData{
		Title: cfg.Title,
		Config: pageConfig{
			Endpoint:     cfg.Endpoint,
			DefaultQuery: cfg.DefaultQuery,
		},
		assets: as,
	}
	if data.Title == "" {
		data.Title = defaultTitle
	}
	if data.Config.Endpoint == "" {
		data.Config.Endpoint = defaultEndpoint
	}
	if len(cfg.Headers) > 0 {
		// This text is what the user sees in the headers editor, so it is
		// indented and not HTML-escaped (no \u003c noise); safety comes from
		// html/template escaping the whole config value. Map keys are
		// sorted, so the page is deterministic.
		var h bytes.Buffer
		enc := json.NewEncoder(&h)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(cfg.Headers); err != nil {
			return nil, err
		}
		data.Config.DefaultHeaders = strings.TrimSuffix(h.String(), "\n")
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, data); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// asset is one embedded file with everything needed to serve it, computed
// once per process.
type asset struct {
	body        []byte
	contentType string
	version     string // short content hash used in ?v=
	etag        string
	compress    bool // text worth gzipping (JS/CSS)

	gzipOnce sync.Once
	gzipBody []byte // nil when compression did not help
}

// gzipped returns the gzip encoding of the asset, computed on first use so
// processes that never serve GraphiQL do not pay for it.
func (a *asset) gzipped() []byte {
	a.gzipOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // level is valid, cannot fail
		_, _ = zw.Write(a.body)                                  // bytes.Buffer writes do not fail
		if zw.Close() == nil && buf.Len() < len(a.body) {
			a.gzipBody = buf.Bytes()
		}
	})
	return a.gzipBody
}

// loadAssets indexes the embedded files once per process; all handlers share
// the result since the files are immutable.
var loadAssets = sync.OnceValue(func() map[string]*asset {
	as := make(map[string]*asset)
	for _, dir := range []string{"assets", "static"} {
		entries, err := fs.ReadDir(files, dir)
		if err != nil {
			panic(fmt.Sprintf("graphiql: embedded dir %s: %v", dir, err))
		}
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			body, err := files.ReadFile(dir + "/" + e.Name())
			if err != nil {
				panic(fmt.Sprintf("graphiql: embedded file %s: %v", e.Name(), err))
			}
			if _, dup := as[e.Name()]; dup {
				panic(fmt.Sprintf("graphiql: %s exists in more than one embedded dir", e.Name()))
			}
			sum := sha256.Sum256(body)
			ct, compress := contentType(e.Name())
			as[e.Name()] = &asset{
				body:        body,
				contentType: ct,
				version:     hex.EncodeToString(sum[:6]),
				etag:        `"` + hex.EncodeToString(sum[:16]) + `"`,
				compress:    compress,
			}
		}
	}
	return as
})

// contentType maps an embedded file name to its Content-Type, and whether it
// is worth compressing. Explicit rather than mime.TypeByExtension so the
// answer does not depend on the host's mime tables; everything else we embed
// (LICENSE.*, VERSIONS) is plain text.
func contentType(name string) (string, bool) {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8", true
	case ".css":
		return "text/css; charset=utf-8", true
	default:
		return "text/plain; charset=utf-8", false
	}
}

type handler struct {
	page     []byte
	pageETag string
	assets   map[string]*asset
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	switch p := r.URL.Path; {
	case p == "/":
		h.servePage(w, r)
	case strings.HasPrefix(p, assetPrefix):
		a, ok := h.assets[strings.TrimPrefix(p, assetPrefix)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		serveAsset(w, r, a)
	default:
		http.NotFound(w, r)
	}
}

func (h *handler) servePage(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "SAMEORIGIN") // for browsers without CSP frame-ancestors
	hd.Set("Referrer-Policy", "no-referrer")
	// Revalidate every time (cheap: ETag → 304) so a new binary's asset
	// hashes are picked up immediately.
	hd.Set("Cache-Control", "no-cache")
	hd.Set("ETag", h.pageETag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(h.page))
}

func serveAsset(w http.ResponseWriter, r *http.Request, a *asset) {
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("X-Content-Type-Options", "nosniff")
	if r.URL.Query().Get("v") == a.version {
		hd.Set("Cache-Control", immutableCache)
	} else {
		hd.Set("Cache-Control", "no-cache")
	}
	body, etag := a.body, a.etag
	if a.compress {
		hd.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			if gz := a.gzipped(); gz != nil {
				hd.Set("Content-Encoding", "gzip")
				// A different representation needs a different strong ETag.
				body, etag = gz, strings.TrimSuffix(a.etag, `"`)+`-gzip"`
			}
		}
	}
	hd.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip,
// honouring an explicit q=0 refusal.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			coding = strings.TrimSpace(coding)
			if !strings.EqualFold(coding, "gzip") && coding != "*" {
				continue
			}
			q := strings.ReplaceAll(strings.ToLower(params), " ", "")
			if q == "q=0" || q == "q=0.0" || q == "q=0.00" || q == "q=0.000" {
				return false
			}
			return true
		}
	}
	return false
}
