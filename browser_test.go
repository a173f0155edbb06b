package main

// GraphiQL in a real browser: headless Chromium (internal/chromiumtest)
// against the real binary in dev mode, as a person exploring the API
// would use it. What it proves cannot be proved with HTTP requests alone:
// the page renders and runs its scripts without the internet, the token
// dev mode pre-fills is what GraphiQL sends, a query's answer reaches the
// result pane, and a subscription's events show up there as they happen.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shipgraph/shipgraph/internal/chromiumtest"
	"github.com/shipgraph/shipgraph/internal/redistest"
)

// graphiqlLink is the URL of GraphiQL with an operation in its editors.
func graphiqlLink(base, query string, variables map[string]any) string {
	vars, _ := json.MarshalIndent(variables, "", "  ")
	return base + "/?" + url.Values{"query": {query}, "variables": {string(vars)}}.Encode()
}

// executeButtonIs is true once GraphiQL's run button carries label: it
// reads "Stop query" while an operation runs (a subscription until it
// completes) and "Execute query" otherwise.
func executeButtonIs(label string) string {
	return fmt.Sprintf(`(() => { const b = document.querySelector('.graphiql-execute-button'); return !!b && b.getAttribute('aria-label').startsWith(%q); })()`, label)
}

// recordResponsesJS keeps every text the result pane shows, with the time
// it showed it (ms since the epoch), in window.shipgraphResponses: the
// pane keeps only a subscription's latest event, so the sequence of
// events seen is only visible while it happens.
const recordResponsesJS = `(() => {
  const cm = document.querySelector('.result-window .CodeMirror').CodeMirror;
  window.shipgraphResponses = [];
  cm.on('change', () => window.shipgraphResponses.push({at: Date.now(), text: cm.getValue()}));
  return true;
})()`

// shownEvent is a deploymentProgress event as the result pane showed it.
type shownEvent struct {
	At       int64 // ms since the epoch
	Sequence int
	Stage    *string
	Status   string
	Message  string
}

func (e shownEvent) String() string {
	stage := "-"
	if e.Stage != nil {
		stage = *e.Stage
	}
	return fmt.Sprintf("#%d %s %s %q", e.Sequence, e.Status, stage, e.Message)
}

// shownEvents reads what the recorder saw, one entry per event shown
// (texts that are not an event, such as the pane being cleared, are
// skipped).
func shownEvents(ctx context.Context, t *testing.T) []shownEvent {
	t.Helper()
	recs, err := chromedp.Run(ctx, chromedp.Evaluate[[]struct {
		At   int64
		Text string
	}](`window.shipgraphResponses`))
	if err != nil {
		t.Fatal(err)
	}
	var evs []shownEvent
	for _, r := range recs {
		var p struct {
			Data struct {
				DeploymentProgress *shownEvent
			}
			Errors []any
		}
		if json.Unmarshal([]byte(r.Text), &p) != nil {
			continue
		}
		if len(p.Errors) > 0 || p.Data.DeploymentProgress == nil {
			t.Fatalf("the result pane shows: %s", r.Text)
		}
		e := *p.Data.DeploymentProgress
		e.At = r.At
		if n := len(evs); n > 0 && evs[n-1].Sequence == e.Sequence {
			continue // the same event, shown again
		}
		evs = append(evs, e)
	}
	return evs
}

func TestGraphiQLInChromium(t *testing.T) {
	t.Parallel()
	bin := serverBinary(t)
	start := time.Now() // after the build, which the process tests share
	db := processDatabase(t)
	redisURL := redistest.URL(t)
	// The API process runs no deployment: the deployment waits, QUEUED,
	// until GraphiQL shows its first event, then the worker process starts
	// it, so every later event is one that happened after the subscription
	// began. The worker's events reach the API process through Redis.
	shared := map[string]string{
		"DATABASE_URL":             db.URL,
		"REDIS_URL":                redisURL,
		"SHIPGRAPH_REDIS_PREFIX":   redistest.Prefix(t, redisURL),
		"SHIPGRAPH_STAGE_DURATION": "300ms",
	}
	api := startProcessArgs(t, bin, "api", []string{"serve", "--dev"}, withEnv(shared, map[string]string{"SHIPGRAPH_RUN_DEPLOYMENTS": "false"}))
	origin, err := url.Parse(api.URL)
	if err != nil {
		t.Fatal(err)
	}
	br := chromiumtest.New(t)
	ctx, cancel := context.WithTimeout(br.Ctx, 60*time.Second)
	defer cancel()

	t.Run("the page loads with no internet", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(api.URL+"/")); err != nil {
			t.Fatal(err)
		}
		e, err := br.AwaitGraphiQL(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(e.Query, "# Welcome to Shipgraph") {
			t.Errorf("the query editor holds %q, want the welcome query", e.Query)
		}
		// Dev mode's admin token is in the headers editor: what makes the
		// next steps work without any setup.
		if !strings.Contains(e.Headers, `"Authorization": "Bearer ey`) {
			t.Errorf("the headers editor holds %q, want dev mode's token", e.Headers)
		}
		// The schema arrived (the introspection went out with the token):
		// the docs explorer can list the root types.
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`.graphiql-sidebar button[aria-label$="Documentation Explorer"]`)),
			chromedp.WaitVisible(chromedp.CSS(`.graphiql-doc-explorer-root-type`)),
		); err != nil {
			t.Fatalf("the documentation explorer did not show the schema: %v", err)
		}
	})

	t.Run("a query shows its result", func(t *testing.T) {
		s := api.api()
		f := s.newFeature(t, "One-click checkout "+token(t), 5, "IN_PROGRESS")
		s.newBuild(t, f.ID, "main")
		s.newBuild(t, f.ID, "feature/one-click")
		const query = `query Feature($id: ID!) {
  feature(id: $id) {
    name
    complexityPoints
    status
    builds(first: 10) {
      totalCount
      nodes { number branch status }
    }
  }
}`
		vars := map[string]any{"id": f.ID}
		if err := chromedp.Do(ctx, chromedp.Navigate(graphiqlLink(api.URL, query, vars))); err != nil {
			t.Fatal(err)
		}
		if e, err := br.AwaitGraphiQL(ctx); err != nil || e.Query != query {
			t.Fatalf("the query editor holds %q (%v), want the query of the link", e.Query, err)
		}
		if err := chromedp.Do(ctx,
			chromedp.Poll[chromedp.Void](executeButtonIs("Execute query"), chromedp.WithPollingInterval(20*time.Millisecond)),
			chromedp.Click(chromedp.CSS(`.graphiql-execute-button`)),
		); err != nil {
			t.Fatal(err)
		}
		shown, err := chromedp.Run(ctx, chromedp.Poll[string](
			`(() => { const cm = document.querySelector('.result-window .CodeMirror').CodeMirror; return cm.getValue(); })()`,
			chromedp.WithPollingInterval(20*time.Millisecond)))
		if err != nil {
			t.Fatalf("no result: %v", err)
		}
		var got struct {
			Data   json.RawMessage
			Errors []any
		}
		if err := json.Unmarshal([]byte(shown), &got); err != nil || len(got.Errors) > 0 {
			t.Fatalf("the result pane shows %s (%v)", shown, err)
		}
		want := map[string]any{"feature": map[string]any{
			"name": f.Name, "complexityPoints": 5.0, "status": "IN_PROGRESS",
			"builds": map[string]any{"totalCount": 2.0, "nodes": []any{
				map[string]any{"number": 2.0, "branch": "feature/one-click", "status": "QUEUED"},
				map[string]any{"number": 1.0, "branch": "main", "status": "QUEUED"},
			}},
		}}
		var gotData map[string]any
		json.Unmarshal(got.Data, &gotData)
		if !reflect.DeepEqual(gotData, want) {
			t.Fatalf("the result pane shows\n%s\nwant the data\n%v", shown, want)
		}
	})

	t.Run("a subscription shows live events", func(t *testing.T) {
		id := createProcessDeployment(t, api)
		const subscription = `subscription Watch($id: ID!) {
  deploymentProgress(deploymentId: $id) {
    sequence
    stage
    stageStatus
    status
    progress
    message
  }
}`
		if err := chromedp.Do(ctx, chromedp.Navigate(graphiqlLink(api.URL, subscription, map[string]any{"id": id}))); err != nil {
			t.Fatal(err)
		}
		if e, err := br.AwaitGraphiQL(ctx); err != nil || e.Query != subscription {
			t.Fatalf("the query editor holds %q (%v), want the subscription of the link", e.Query, err)
		}
		if err := chromedp.Do(ctx,
			chromedp.Poll[chromedp.Void](executeButtonIs("Execute query"), chromedp.WithPollingInterval(20*time.Millisecond)),
			chromedp.Poll[chromedp.Void](recordResponsesJS),
			chromedp.Click(chromedp.CSS(`.graphiql-execute-button`)),
			// The queued deployment's first event, replayed.
			chromedp.Poll[chromedp.Void](`window.shipgraphResponses.some((r) => r.text.includes('"sequence": 1,'))`,
				chromedp.WithPollingInterval(20*time.Millisecond)),
		); err != nil {
			t.Fatalf("the subscription's first event did not show: %v", err)
		}
		workerStarted := time.Now()
		startProcess(t, bin, "worker", withEnv(shared, map[string]string{"SHIPGRAPH_RUN_DEPLOYMENTS": "true"}))
		// GraphiQL's run button turns back from "Stop" once the server
		// completes the subscription, after the terminal event.
		if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](executeButtonIs("Execute query"),
			chromedp.WithPollingInterval(20*time.Millisecond))); err != nil {
			t.Fatalf("the subscription did not complete: %v\nshown: %v", err, shownEvents(ctx, t))
		}
		evs := shownEvents(ctx, t)
		t.Logf("events shown in the result pane:\n%s", eventListShown(evs, workerStarted))
		var stored struct {
			Deployment struct{ Events struct{ TotalCount int } }
		}
		api.api().mustData(t, `query($id: ID!) { deployment(id: $id) { events { totalCount } } }`, map[string]any{"id": id}, &stored)
		last := evs[len(evs)-1]
		if evs[0].Sequence != 1 || last.Status != "SUCCEEDED" || last.Sequence != stored.Deployment.Events.TotalCount {
			t.Fatalf("shown: first #%d, last %s; want #1 first and #%d SUCCEEDED last (the stored log)", evs[0].Sequence, last, stored.Deployment.Events.TotalCount)
		}
		for i := 1; i < len(evs); i++ {
			if evs[i].Sequence <= evs[i-1].Sequence {
				t.Fatalf("event #%d shown after #%d", evs[i].Sequence, evs[i-1].Sequence)
			}
		}
		// Live, not a replay at the end: besides the first and the last,
		// the pane showed events in between, as the stages ran (they take
		// 300 ms each, two rounds: the pane showed at least one state of
		// each round).
		if len(evs) < 4 {
			t.Fatalf("the pane showed %d distinct events, want the first, the last and at least two in between", len(evs))
		}
		if span := time.Duration(last.At-evs[1].At) * time.Millisecond; span < 300*time.Millisecond {
			t.Errorf("the events after the first were shown within %s, less than one stage", span)
		}
		if d := readDeployment(t, api, id); d.Status != "SUCCEEDED" {
			t.Errorf("the API says the deployment is %s", d.Status)
		}

		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		saveScreenshot(t, png)
	})

	// Everything the page asked for came from the server: requests,
	// WebSockets. The browser had no proxy to reach anything else anyway;
	// a request elsewhere would have failed and shown as a problem too.
	var ws int
	for _, raw := range br.Requests() {
		u, err := url.Parse(raw)
		switch {
		case err == nil && u.Scheme == "data":
		case err == nil && (u.Scheme == "http" || u.Scheme == "ws") && u.Host == origin.Host:
			if u.Scheme == "ws" {
				ws++
			}
		default:
			t.Errorf("the page requested %s, not from %s", raw, api.URL)
		}
	}
	if ws == 0 {
		t.Errorf("the page opened no WebSocket to %s; requests:\n%s", api.URL, strings.Join(br.Requests(), "\n"))
	}
	if p := br.Problems(); len(p) > 0 {
		t.Errorf("the page reported problems:\n%s", strings.Join(p, "\n"))
	}
	t.Logf("%d requests, all to %s; %s in all", len(br.Requests()), api.URL, time.Since(start).Round(time.Millisecond))
}

func eventListShown(evs []shownEvent, workerStarted time.Time) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "  %+6dms %s\n", time.UnixMilli(e.At).Sub(workerStarted).Milliseconds(), e)
	}
	return b.String()
}

// saveScreenshot checks that png is a screenshot of the whole viewport
// and writes it to SHIPGRAPH_SCREENSHOT (docs/graphiql.png is made so), or
// into the test's temporary directory.
func saveScreenshot(t *testing.T, b []byte) {
	t.Helper()
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if cfg.Width != chromiumtest.ViewportWidth || cfg.Height != chromiumtest.ViewportHeight {
		t.Errorf("the screenshot is %dx%d, want the viewport, %dx%d", cfg.Width, cfg.Height, chromiumtest.ViewportWidth, chromiumtest.ViewportHeight)
	}
	path := os.Getenv("SHIPGRAPH_SCREENSHOT")
	if path == "" {
		path = filepath.Join(t.TempDir(), "graphiql.png")
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot (%d bytes) in %s", len(b), path)
}
