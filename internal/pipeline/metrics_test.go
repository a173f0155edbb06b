package pipeline

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/shipgraph/shipgraph/internal/metrics"
	"github.com/shipgraph/shipgraph/internal/metrics/metricstest"
	"github.com/shipgraph/shipgraph/internal/postgres"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// TestPipelineReportsMetrics runs deployments with the real metrics as the
// observer and reads what a Prometheus scrape of them says.
func TestPipelineReportsMetrics(t *testing.T) {
	t.Parallel()
	// observed runs a pipeline configured by cfg, observed by fresh metrics,
	// and returns a scraper of them with the pipeline and its store.
	observed := func(t *testing.T, cfg Config) (func() metricstest.Families, *Pipeline, *postgres.Store) {
		m := metrics.New("test")
		srv := httptest.NewServer(m.Handler())
		t.Cleanup(srv.Close)
		cfg.Observer = m
		s := postgres.NewStore(testDB.DB)
		p := newTestPipeline(t, testDB.DB.Pool, s, cfg)
		return func() metricstest.Families { return metricstest.Scrape(t, srv.URL) }, p, s
	}
	finished := func(outcome string) map[string]string { return map[string]string{"outcome": outcome} }
	stage := func(st shipgraph.StageName, outcome string) map[string]string {
		return map[string]string{"stage": string(st), "outcome": outcome}
	}
	const (
		deployments = "shipgraph_deployments_finished_total"
		stages      = "shipgraph_deployment_stage_duration_seconds"
	)

	t.Run("a deployment that succeeds counts once, with each stage's duration", func(t *testing.T) {
		t.Parallel()
		scrape, p, s := observed(t, Config{StageDuration: 30 * time.Millisecond})
		start(t, p)
		d := createDeployment(t, s)
		waitStatus(t, s, d.ID, shipgraph.DeploymentSucceeded, 10*time.Second)
		var f metricstest.Families
		eventually(t, 5*time.Second, "the deployment to be counted", func() bool {
			f = scrape()
			return f.Value(deployments, finished("succeeded")) == 1
		})
		if n := f.Value(deployments, nil); n != 1 {
			t.Errorf("%v deployments counted, want 1", n)
		}
		for _, st := range shipgraph.Stages {
			if n := f.Value(stages, stage(st, "succeeded")); n != 1 {
				t.Errorf("%s: %v observations, want 1", st, n)
			}
			// Each simulated stage sleeps 30ms: the histogram holds the
			// time the stage ran, not the time since the deployment began.
			if sum := f.Sum(stages, stage(st, "succeeded")); sum < 0.03 || sum > 5 {
				t.Errorf("%s took %vs by the histogram, want about 0.03", st, sum)
			}
		}
	})

	t.Run("a failing stage fails the deployment and is observed as failed", func(t *testing.T) {
		t.Parallel()
		scrape, p, s := observed(t, Config{StageDuration: 50 * time.Millisecond, FailStage: shipgraph.StagePrepareInfrastructure})
		start(t, p)
		d := createDeployment(t, s)
		waitStatus(t, s, d.ID, shipgraph.DeploymentFailed, 10*time.Second)
		var f metricstest.Families
		eventually(t, 5*time.Second, "the deployment to be counted", func() bool {
			f = scrape()
			return f.Value(deployments, finished("failed")) == 1
		})
		if n := f.Value(deployments, nil); n != 1 {
			t.Errorf("%v deployments counted, want 1", n)
		}
		if n := f.Value(stages, stage(shipgraph.StagePrepareInfrastructure, "failed")); n != 1 {
			t.Errorf("PREPARE_INFRASTRUCTURE failed %v times, want 1", n)
		}
		// The siblings either finished first or were cancelled by the
		// failure; EXECUTE never ran.
		for _, st := range []shipgraph.StageName{shipgraph.StagePreChecks, shipgraph.StageBuildArtifacts} {
			if n := f.Value(stages, map[string]string{"stage": string(st)}); n != 1 {
				t.Errorf("%s: %v observations, want 1", st, n)
			}
		}
		if n := f.Value(stages, map[string]string{"stage": string(shipgraph.StageExecute)}); n != 0 {
			t.Errorf("EXECUTE observed %v times; it never ran", n)
		}
	})

	t.Run("a deployment cancelled while running counts as cancelled, its stages not at all", func(t *testing.T) {
		t.Parallel()
		scrape, p, s := observed(t, Config{StageDuration: time.Hour, StageTimeout: 2 * time.Hour})
		start(t, p)
		d := createDeployment(t, s)
		eventually(t, 10*time.Second, "the preparation stages to run", func() bool {
			return len(events(t, testDB.DB.Pool, d.ID)) >= 5 // QUEUED, started, 3 × RUNNING
		})
		if _, err := s.CancelDeployment(t.Context(), d.ID); err != nil {
			t.Fatal(err)
		}
		var f metricstest.Families
		eventually(t, 5*time.Second, "the worker to see the cancellation", func() bool {
			f = scrape()
			return f.Value(deployments, finished("cancelled")) == 1
		})
		if n := f.Value(deployments, nil); n != 1 {
			t.Errorf("%v deployments counted, want 1", n)
		}
		// Interrupted stages did not finish: they would distort the
		// durations of the stages that did.
		if n := f.Value(stages, nil); n != 0 {
			t.Errorf("%v stage observations, want none", n)
		}
	})
}
