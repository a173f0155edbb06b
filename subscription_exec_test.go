package main

import (
	"io"
	"testing"

	"github.com/shipgraph/shipgraph/internal/metrics/metricstest"
)

// TestSubscriptionExecutorMatchesGqlgen: a subscription answered by
// internal/queryexec streams the same bytes as gqlgen's executor, and what
// queryexec leaves to gqlgen (a relation in the selection, bad arguments)
// is answered as before. Two handlers share the database; one runs with
// SHIPGRAPH_FAST_QUERIES=false. The deployment is cancelled first, so
// each stream replays its two events and completes.
func TestSubscriptionExecutorMatchesGqlgen(t *testing.T) {
	t.Parallel()
	fast, _, _ := startHandlerServer(t, nil)
	slow, _, _ := startHandlerServer(t, map[string]string{"SHIPGRAPH_FAST_QUERIES": "false"})
	id := fast.queuedDeployment(t)
	fast.cancelDeployment(t, id)

	cases := []struct{ name, query string }{
		{"every field of the event", `subscription($id: ID!) { deploymentProgress(deploymentId: $id) {
			__typename id sequence stage stageStatus status progress message occurredAt } }`},
		{"an alias and a fragment", `subscription($id: ID!) { p: deploymentProgress(deploymentId: $id) { ...E seq: sequence } }
			fragment E on DeploymentEvent { status message }`},
		{"@skip and @include", `subscription($id: ID!, $yes: Boolean = true) { deploymentProgress(deploymentId: $id) {
			sequence status @skip(if: $yes) message @include(if: $yes) } }`},
		{"after a sequence", `subscription($id: ID!) { deploymentProgress(deploymentId: $id, afterSequence: 1) { sequence } }`},
		{"a relation, left to gqlgen", `subscription($id: ID!) { deploymentProgress(deploymentId: $id) {
			sequence deployment { id status stages { name status } } } }`},
		{"a malformed id", `subscription { deploymentProgress(deploymentId: "nope") { sequence } }`},
		{"a negative sequence", `subscription($id: ID!) { deploymentProgress(deploymentId: $id, afterSequence: -1) { sequence } }`},
	}
	t.Run("streams", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				body := map[string]any{"query": c.query, "variables": map[string]any{"id": id}}
				read := func(s *testServer) string {
					res := postSSE(t, s, body)
					defer res.Body.Close()
					b, err := io.ReadAll(res.Body)
					if err != nil {
						t.Fatal(err)
					}
					return res.Status + "\n" + string(b)
				}
				got, want := read(fast), read(slow)
				if got != want {
					t.Fatalf("queryexec streamed\n%s\ngqlgen streamed\n%s", got, want)
				}
			})
		}
	})
	// The four streams whose selections need no resolver ran on queryexec.
	m := metricstest.Scrape(t, fast.URL+"/metrics")
	served := map[string]string{"executor": "queryexec", "type": "subscription"}
	if n := m.Value("shipgraph_graphql_executor_operations_total", served); n != 4 {
		t.Errorf("queryexec served %v subscriptions, want 4", n)
	}
}
