// Package chromiumtest starts a headless Chromium for tests that drive a
// page in a real browser (GraphiQL), through the DevTools protocol
// (chromedp).
//
// The browser is the one scripts/ensure-chromium.sh finds or installs:
// SHIPGRAPH_CHROMIUM (make test exports it), else /usr/bin/chromium. A test
// that needs it fails when there is none, so CI cannot pass by skipping;
// only `go test -short` skips, for quick local runs.
package chromiumtest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// EnvExecPath names the browser executable.
const EnvExecPath = "SHIPGRAPH_CHROMIUM"

// defaultExecPath is where Debian's chromium package puts its launcher.
const defaultExecPath = "/usr/bin/chromium"

// Viewport is the browser window's size, a laptop screen: GraphiQL lays
// out its editors side by side from about 1000 px on.
const (
	ViewportWidth  = 1280
	ViewportHeight = 800
)

// ExecPath returns the browser to run. It fails the test when there is
// none, and skips it only under -short.
func ExecPath(t testing.TB) string {
	t.Helper()
	path, fromEnv := os.Getenv(EnvExecPath), true
	if path == "" {
		path, fromEnv = defaultExecPath, false
	}
	if fi, err := os.Stat(path); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		if testing.Short() {
			t.Skipf("no Chromium at %s (-short)", path)
		}
		if fromEnv {
			t.Fatalf("%s=%s is not an executable file", EnvExecPath, path)
		}
		t.Fatalf("no Chromium at %s: run scripts/ensure-chromium.sh (make test does) or set %s", path, EnvExecPath)
	}
	return path
}

// Browser is one headless Chromium with one tab, and what that tab did:
// its requests and its console errors, recorded from its first command.
type Browser struct {
	// Ctx is the tab's chromedp context; chromedp.Run and chromedp.Do take
	// it or a context derived from it.
	Ctx context.Context

	mu       sync.Mutex
	requests []string
	problems []string
}

// New starts a browser for the test; it is stopped (and its profile
// deleted) when the test ends.
//
// The flags are those Debian's chromium needs to run headless in a
// container as root, plus a proxy that does not exist: Chromium sends
// every request that is not to a loopback address to the proxy, so a page
// that needs the internet fails here as it would on an air-gapped host,
// while the server under test (on 127.0.0.1) is reached directly.
func New(t testing.TB) *Browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ExecPath(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(ViewportWidth, ViewportHeight),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("proxy-server", "http://127.0.0.1:9"), // discard: nothing listens
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &Browser{}
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithListener(b.record))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first command starts the browser and attaches the tab; it is
	// given no deadline of its own, since that would end the browser.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", ExecPath(t), err)
	}
	// The window size is not the page's: headless Chromium keeps room for
	// browser UI it does not draw. Screenshots are of the page, so set it.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(ViewportWidth, ViewportHeight)); err != nil {
		t.Fatalf("set the viewport: %v", err)
	}
	b.Ctx = ctx
	return b
}

// record runs in the tab's event loop (it must return fast and send no
// command): it keeps the URL of every request and WebSocket the page
// opens, and every console error, uncaught exception and browser log
// error (a failed load, a CSP violation).
func (b *Browser) record(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, ev.Request.URL)
	case *network.EventWebSocketCreated:
		b.requests = append(b.requests, ev.URL)
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeAssert {
			b.problems = append(b.problems, fmt.Sprintf("console.%s: %s", ev.Type, argsText(ev.Args)))
		}
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		text := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			text += " " + d.Exception.Description
		}
		b.problems = append(b.problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, text))
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError {
			b.problems = append(b.problems, fmt.Sprintf("browser log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
		}
	}
}

func argsText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		switch {
		case len(a.Value) > 0:
			var s string
			if json.Unmarshal(a.Value, &s) == nil {
				parts = append(parts, s)
			} else {
				parts = append(parts, string(a.Value))
			}
		case a.Description != "":
			parts = append(parts, a.Description)
		default:
			parts = append(parts, string(a.Type))
		}
	}
	return strings.Join(parts, " ")
}

// Requests returns the URLs of the requests and WebSockets the page opened
// so far, in order.
func (b *Browser) Requests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.requests...)
}

// Problems returns the console errors, uncaught exceptions and browser log
// errors so far, in order.
func (b *Browser) Problems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

// GraphiQLEditors is what GraphiQL's editors hold. A field is empty until
// its editor exists.
type GraphiQLEditors struct {
	Query     string `json:"query"`
	Variables string `json:"variables"`
	Headers   string `json:"headers"`
	Response  string `json:"response"`
}

// graphiqlEditorsJS reads GraphiQL 4's CodeMirror 5 editors through the
// instance CodeMirror keeps on its wrapper element: the whole text, where
// the DOM only holds the lines in view. The variables and headers editors
// are the first and second in the editor tools section.
const graphiqlEditorsJS = `(() => {
  const value = (el) => (el && el.CodeMirror ? el.CodeMirror.getValue() : '');
  const tools = document.querySelectorAll('.graphiql-editor-tool .CodeMirror');
  return {
    query: value(document.querySelector('.graphiql-query-editor .CodeMirror')),
    variables: value(tools[0]),
    headers: value(tools[1]),
    response: value(document.querySelector('.result-window .CodeMirror')),
  };
})()`

// ReadGraphiQL returns what GraphiQL's editors hold now.
func (b *Browser) ReadGraphiQL(ctx context.Context) (GraphiQLEditors, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[GraphiQLEditors](graphiqlEditorsJS))
}

// AwaitGraphiQL waits until GraphiQL has rendered its query editor with
// text in it, and returns the editors.
func (b *Browser) AwaitGraphiQL(ctx context.Context) (GraphiQLEditors, error) {
	return chromedp.Run(ctx, chromedp.Poll[GraphiQLEditors](
		`(() => { const e = `+graphiqlEditorsJS+`; return e.query !== '' ? e : null; })()`,
		chromedp.WithPollingInterval(20*time.Millisecond)))
}
