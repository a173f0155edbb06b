package pipeline

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shipgraph/shipgraph/internal/postgres"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// End-to-end tests: the real store, River and PostgreSQL.

// newTestPipeline builds a pipeline on its own River queue, wired into
// store the way the server wires it.
func newTestPipeline(t *testing.T, pool *pgxpool.Pool, store *postgres.Store, cfg Config) *Pipeline {
	t.Helper()
	if cfg.queue == "" {
		cfg.queue = token(t)
	}
	p, err := New(pool, store, cfg, testLogger())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	store.SetJobHook(postgres.JobHook{Enqueue: p.EnqueueTx, Cancel: p.CancelTx})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return p
}

func start(t *testing.T, p *Pipeline) {
	t.Helper()
	if err := p.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
}

// succeededBuild creates a feature and a SUCCEEDED build of it.
func succeededBuild(t *testing.T, s *postgres.Store) *shipgraph.Build {
	t.Helper()
	ctx := t.Context()
	f, err := s.CreateFeature(ctx, shipgraph.FeatureCreate{Name: "feature " + token(t), ComplexityPoints: 3})
	if err != nil {
		t.Fatalf("CreateFeature: %v", err)
	}
	b, err := s.CreateBuild(ctx, shipgraph.BuildCreate{FeatureID: f.ID, CommitSHA: "0123abc", Branch: "main"})
	if err != nil {
		t.Fatalf("CreateBuild: %v", err)
	}
	for _, st := range []shipgraph.BuildStatus{shipgraph.BuildRunning, shipgraph.BuildSucceeded} {
		if b, err = s.UpdateBuildStatus(ctx, shipgraph.BuildStatusUpdate{ID: b.ID, Status: st}); err != nil {
			t.Fatalf("UpdateBuildStatus(%s): %v", st, err)
		}
	}
	return b
}

func createDeployment(t *testing.T, s *postgres.Store) *shipgraph.Deployment {
	t.Helper()
	b := succeededBuild(t, s)
	d, created, err := s.CreateDeployment(t.Context(), shipgraph.DeploymentCreate{BuildID: b.ID, Environment: "staging"})
	if err != nil || !created {
		t.Fatalf("CreateDeployment: %v (created %v)", err, created)
	}
	return d
}

func getDeployment(t *testing.T, s *postgres.Store, id int64) *shipgraph.Deployment {
	t.Helper()
	ds, err := s.DeploymentsByID(context.Background(), []int64{id})
	if err != nil || ds[0] == nil {
		t.Fatalf("DeploymentsByID(%d): %v", id, err)
	}
	return ds[0]
}

func waitStatus(t *testing.T, s *postgres.Store, id int64, want shipgraph.DeploymentStatus, timeout time.Duration) *shipgraph.Deployment {
	t.Helper()
	var d *shipgraph.Deployment
	eventually(t, timeout, fmt.Sprintf("deployment %d to be %s", id, want), func() bool {
		d = getDeployment(t, s, id)
		return d.Status == want
	})
	return d
}

type event struct {
	seq         int
	stage       string
	stageStatus string
	status      string
	progress    int
	message     string
}

func (e event) String() string {
	return fmt.Sprintf("#%d %s %s %s %d%% %q", e.seq, e.stage, e.stageStatus, e.status, e.progress, e.message)
}

func events(t *testing.T, pool *pgxpool.Pool, id int64) []event {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT sequence, coalesce(stage, ''), coalesce(stage_status, ''), status, progress, message
		FROM deployment_events WHERE deployment_id = $1 ORDER BY sequence`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []event
	for rows.Next() {
		var e event
		if err := rows.Scan(&e.seq, &e.stage, &e.stageStatus, &e.status, &e.progress, &e.message); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkGapless checks that the sequence counts 1..n.
func checkGapless(t *testing.T, evs []event) {
	t.Helper()
	for i, e := range evs {
		if e.seq != i+1 {
			t.Fatalf("event %d has sequence %d:%s", i, e.seq, dumpEvents(evs))
		}
	}
}

func dumpEvents(evs []event) string {
	var b strings.Builder
	for _, e := range evs {
		b.WriteString("\n  " + e.String())
	}
	return b.String()
}

func findEvent(evs []event, stage shipgraph.StageName, status shipgraph.StageStatus) int {
	for i, e := range evs {
		if e.stage == string(stage) && e.stageStatus == string(status) {
			return i
		}
	}
	return -1
}

// jobState is the River state of a deployment's job.
func jobState(t *testing.T, pool *pgxpool.Pool, deploymentID int64) (state string, attempt int) {
	t.Helper()
	err := pool.QueryRow(context.Background(), `
		SELECT j.state, j.attempt FROM river_job j JOIN deployments d ON d.job_id = j.id WHERE d.id = $1`,
		deploymentID).Scan(&state, &attempt)
	if err != nil {
		t.Fatalf("job of deployment %d: %v", deploymentID, err)
	}
	return state, attempt
}

func TestPipelineRunsDeployment(t *testing.T) {
	t.Parallel()
	pool := testDB.DB.Pool
	s := postgres.NewStore(testDB.DB)
	p := newTestPipeline(t, pool, s, Config{StageDuration: 0})
	start(t, p)
	d := createDeployment(t, s)
	d = waitStatus(t, s, d.ID, shipgraph.DeploymentSucceeded, 10*time.Second)

	if d.Progress != 100 || d.StartedAt == nil || d.FinishedAt == nil || d.Error != nil {
		t.Errorf("deployment: progress %d, started %v, finished %v, error %v", d.Progress, d.StartedAt, d.FinishedAt, d.Error)
	}
	stages, _ := d.Stages()
	for _, st := range stages {
		if st.Status != shipgraph.StageSucceeded {
			t.Errorf("stage %s is %s", st.Name, st.Status)
		}
	}
	evs := events(t, pool, d.ID)
	checkGapless(t, evs)
	if evs[0].status != "QUEUED" || evs[1].status != "IN_PROGRESS" || evs[1].message != "deployment started" {
		t.Errorf("first events:%s", dumpEvents(evs[:2]))
	}
	if last := evs[len(evs)-1]; last.status != "SUCCEEDED" || last.stage != "" || last.progress != 100 {
		t.Errorf("last event %s", last)
	}
	for _, st := range shipgraph.Stages {
		r, ok := findEvent(evs, st, shipgraph.StageRunning), findEvent(evs, st, shipgraph.StageSucceeded)
		if r < 0 || ok < r {
			t.Errorf("%s: RUNNING at %d, SUCCEEDED at %d:%s", st, r, ok, dumpEvents(evs))
		}
	}
	exec := findEvent(evs, shipgraph.StageExecute, shipgraph.StageRunning)
	for _, st := range concurrentStages {
		if findEvent(evs, st, shipgraph.StageSucceeded) > exec {
			t.Errorf("EXECUTE started before %s succeeded:%s", st, dumpEvents(evs))
		}
	}
	eventually(t, 5*time.Second, "the job to complete", func() bool {
		state, _ := jobState(t, pool, d.ID)
		return state == "completed"
	})
}

func TestPipelineFailStage(t *testing.T) {
	t.Parallel()
	pool := testDB.DB.Pool
	s := postgres.NewStore(testDB.DB)
	p := newTestPipeline(t, pool, s, Config{StageDuration: 50 * time.Millisecond, FailStage: shipgraph.StagePrepareInfrastructure})
	start(t, p)
	d := createDeployment(t, s)
	d = waitStatus(t, s, d.ID, shipgraph.DeploymentFailed, 10*time.Second)
	want := "PREPARE_INFRASTRUCTURE: simulated failure of PREPARE_INFRASTRUCTURE (FailStage is set)"
	if deref(d.Error, "") != want {
		t.Errorf("error %q, want %q", deref(d.Error, ""), want)
	}
	stages, _ := d.Stages()
	for _, st := range stages {
		// The siblings take as long as the failing stage: each either
		// finished first or was cancelled by the failure.
		ok := st.Status == shipgraph.StageSucceeded || st.Status == shipgraph.StageCancelled
		switch st.Name {
		case shipgraph.StagePrepareInfrastructure:
			ok = st.Status == shipgraph.StageFailed
		case shipgraph.StageExecute:
			ok = st.Status == shipgraph.StagePending
		}
		if !ok {
			t.Errorf("stage %s is %s", st.Name, st.Status)
		}
	}
	evs := events(t, pool, d.ID)
	checkGapless(t, evs)
	if last := evs[len(evs)-1]; last.status != "FAILED" {
		t.Errorf("last event %s", last)
	}
	eventually(t, 5*time.Second, "the job to complete", func() bool {
		state, attempt := jobState(t, pool, d.ID)
		return state == "completed" && attempt == 1
	})
}

func TestPipelineCancelRunningDeployment(t *testing.T) {
	t.Parallel()
	pool := testDB.DB.Pool
	s := postgres.NewStore(testDB.DB)
	p := newTestPipeline(t, pool, s, Config{StageDuration: time.Hour, StageTimeout: 2 * time.Hour})
	start(t, p)
	d := createDeployment(t, s)
	eventually(t, 10*time.Second, "the preparation stages to run", func() bool {
		return len(events(t, pool, d.ID)) >= 8 // QUEUED, started, 3 × (RUNNING + a line)
	})

	begin := time.Now()
	cd, err := s.CancelDeployment(t.Context(), d.ID)
	if err != nil || cd.Status != shipgraph.DeploymentCancelled {
		t.Fatalf("CancelDeployment: %v, %v", cd, err)
	}
	n := len(events(t, pool, d.ID))
	// The worker returns nil once it sees the deployment cancelled, so
	// River records the job completed (or cancelled, had it been queued).
	eventually(t, time.Second, "the running job to stop", func() bool {
		state, _ := jobState(t, pool, d.ID)
		return state == "completed" || state == "cancelled"
	})
	t.Logf("job stopped %s after the cancellation", time.Since(begin).Round(time.Millisecond))
	time.Sleep(100 * time.Millisecond)
	evs := events(t, pool, d.ID)
	checkGapless(t, evs)
	if len(evs) != n || evs[n-1].status != "CANCELLED" {
		t.Errorf("events after the cancellation:%s", dumpEvents(evs))
	}
}

func TestPipelineCancelQueuedDeployment(t *testing.T) {
	t.Parallel()
	pool := testDB.DB.Pool
	s := postgres.NewStore(testDB.DB)
	p := newTestPipeline(t, pool, s, Config{StageDuration: 0})
	d := createDeployment(t, s) // queued: the pipeline is not started
	if _, err := s.CancelDeployment(t.Context(), d.ID); err != nil {
		t.Fatal(err)
	}
	if state, _ := jobState(t, pool, d.ID); state != "cancelled" {
		t.Errorf("job state %s, want cancelled", state)
	}
	start(t, p)
	time.Sleep(300 * time.Millisecond)
	evs := events(t, pool, d.ID)
	if len(evs) != 2 || evs[1].status != "CANCELLED" {
		t.Errorf("a cancelled queued deployment ran:%s", dumpEvents(evs))
	}
}

func TestPipelineStopHandsBackRunningDeployments(t *testing.T) {
	t.Parallel()
	pool := testDB.DB.Pool
	s := postgres.NewStore(testDB.DB)
	queue := token(t)
	slow := newTestPipeline(t, pool, s, Config{StageDuration: time.Hour, StageTimeout: 2 * time.Hour, queue: queue})
	start(t, slow)
	d := createDeployment(t, s)
	eventually(t, 10*time.Second, "the preparation stages to run", func() bool {
		return len(events(t, pool, d.ID)) >= 8
	})

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	begin := time.Now()
	if err := slow.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("Stop took %s", took)
	}
	if state, attempt := jobState(t, pool, d.ID); state != "available" || attempt != 0 {
		t.Errorf("job is %s at attempt %d, want available again without using an attempt", state, attempt)
	}
	d = getDeployment(t, s, d.ID)
	evs := events(t, pool, d.ID)
	if d.Status != shipgraph.DeploymentInProgress || !strings.Contains(evs[len(evs)-1].message, "shutting down") {
		t.Errorf("deployment %s, events:%s", d.Status, dumpEvents(evs))
	}

	// Another instance picks it up and finishes it.
	fast := newTestPipeline(t, pool, s, Config{StageDuration: 0, queue: queue})
	start(t, fast)
	waitStatus(t, s, d.ID, shipgraph.DeploymentSucceeded, 10*time.Second)
	evs = events(t, pool, d.ID)
	checkGapless(t, evs)
	resumed := false
	for _, e := range evs {
		resumed = resumed || strings.HasPrefix(e.message, "resumed on ")
	}
	if !resumed {
		t.Errorf("no resume event:%s", dumpEvents(evs))
	}
}

func TestMigrateIsIdempotentAndConcurrent(t *testing.T) {
	t.Parallel()
	errs := make(chan error, 3)
	for range 3 {
		go func() { errs <- Migrate(t.Context(), testDB.DB.Pool) }()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Errorf("Migrate: %v", err)
		}
	}
}
