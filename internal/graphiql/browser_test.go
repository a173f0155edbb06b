package graphiql_test

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shipgraph/shipgraph/internal/chromiumtest"
	"github.com/shipgraph/shipgraph/internal/graphiql"
)

// The page in Chromium: the first visit shows the default query; a link
// with ?query= and ?variables= opens that operation in the editors (in a
// new tab, since the first visit saved one), and the configured headers
// are in the headers editor. No GraphQL endpoint answers here: the page
// must not need one to render.
func TestPageInBrowserOpensTheQueryOfItsURL(t *testing.T) {
	t.Parallel()
	const defaultQuery = "# default\n{ __typename }"
	srv := httptest.NewServer(graphiql.Handler(graphiql.Config{
		DefaultQuery: defaultQuery,
		Headers:      map[string]string{"Authorization": "Bearer dev-token"},
	}))
	t.Cleanup(srv.Close)
	b := chromiumtest.New(t)
	ctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	defer cancel()

	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	e, err := b.AwaitGraphiQL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if e.Query != defaultQuery {
		t.Errorf("first visit: query editor holds %q, want the default query %q", e.Query, defaultQuery)
	}
	if !strings.Contains(e.Headers, `"Authorization": "Bearer dev-token"`) {
		t.Errorf("headers editor holds %q, want the configured Authorization header", e.Headers)
	}

	const query = "query Deployments($n: Int) {\n  deployments(first: $n) { totalCount }\n}"
	const variables = `{"n": 3}`
	link := srv.URL + "/?" + url.Values{"query": {query}, "variables": {variables}}.Encode()
	if err := chromedp.Do(ctx, chromedp.Navigate(link)); err != nil {
		t.Fatal(err)
	}
	e, err = b.AwaitGraphiQL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if e.Query != query || e.Variables != variables {
		t.Errorf("?query= link: editors hold query %q, variables %q; want %q, %q", e.Query, e.Variables, query, variables)
	}
}
