package postgres_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/shipgraph/shipgraph/internal/postgres"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// succeededBuild creates a build of a fresh feature and moves it to
// SUCCEEDED, the only state a deployment may be created from.
func succeededBuild(t *testing.T, s *postgres.Store) *shipgraph.Build {
	t.Helper()
	f := newFeature(t, s)
	b := createBuild(t, s, f.ID, "main")
	setBuildStatus(t, s, b, shipgraph.BuildRunning)
	setBuildStatus(t, s, b, shipgraph.BuildSucceeded)
	return b
}

// newDeployment creates a deployment of a fresh SUCCEEDED build through the
// store, with a job hook that records what it was asked to enqueue.
func newDeployment(t *testing.T, env string) (*postgres.Store, *shipgraph.Deployment, *[]int64) {
	t.Helper()
	s := newStore(t)
	b := succeededBuild(t, s)
	var enqueued []int64
	s.SetJobHook(postgres.JobHook{Enqueue: func(ctx context.Context, tx pgx.Tx, id int64) (int64, error) {
		enqueued = append(enqueued, id)
		return 1000 + id, nil
	}})
	d, created, err := s.CreateDeployment(t.Context(), shipgraph.DeploymentCreate{BuildID: b.ID, Environment: env})
	if err != nil || !created {
		t.Fatalf("CreateDeployment: %v (created %v)", err, created)
	}
	return s, d, &enqueued
}

func stage(n shipgraph.StageName) *shipgraph.StageName { return &n }

func TestCreateDeploymentEnqueuesInTheSameTransaction(t *testing.T) {
	t.Parallel()
	_, d, enqueued := newDeployment(t, "staging")
	if !slices.Equal(*enqueued, []int64{d.ID}) {
		t.Fatalf("enqueued %v", *enqueued)
	}
	if n := countSQL(t, "SELECT count(*) FROM deployments WHERE id = $1 AND job_id = $2", d.ID, 1000+d.ID); n != 1 {
		t.Fatal("job id not recorded")
	}

	t.Run("a failing enqueue leaves nothing behind", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		b := succeededBuild(t, s)
		s.SetJobHook(postgres.JobHook{Enqueue: func(context.Context, pgx.Tx, int64) (int64, error) {
			return 0, context.DeadlineExceeded
		}})
		if _, _, err := s.CreateDeployment(t.Context(), shipgraph.DeploymentCreate{BuildID: b.ID, Environment: "qa"}); err == nil {
			t.Fatal("no error")
		}
		if n := countSQL(t, "SELECT count(*) FROM deployments WHERE build_id = $1", b.ID); n != 0 {
			t.Fatalf("%d deployments survived a failed enqueue", n)
		}
	})
}

func TestTransitionsAreGaplessUnderConcurrency(t *testing.T) {
	t.Parallel()
	s, d, _ := newDeployment(t, "staging")
	ctx := t.Context()
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() {
			_, _, err := s.Transition(ctx, shipgraph.Transition{DeploymentID: d.ID, Stage: stage(shipgraph.StagePreChecks),
				StageStatus: shipgraph.StageRunning, Status: shipgraph.DeploymentInProgress, Message: "line"})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var seqs []int
	rows, _ := testDB.DB.Pool.Query(ctx, "SELECT sequence FROM deployment_events WHERE deployment_id = $1 ORDER BY sequence", d.ID)
	seqs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range seqs {
		if n != i+1 {
			t.Fatalf("sequences %v are not 1..31", seqs)
		}
	}
	if len(seqs) != 31 {
		t.Fatalf("%d events, want 31", len(seqs))
	}
}

func TestTransitionsDeriveProgressAndStages(t *testing.T) {
	t.Parallel()
	s, d, _ := newDeployment(t, "staging")
	ctx := t.Context()
	step := func(st *shipgraph.StageName, ss shipgraph.StageStatus, status shipgraph.DeploymentStatus, errText string) *shipgraph.Deployment {
		t.Helper()
		_, dep, err := s.Transition(ctx, shipgraph.Transition{DeploymentID: d.ID, Stage: st, StageStatus: ss, Status: status, Error: errText})
		if err != nil {
			t.Fatal(err)
		}
		return dep
	}
	dep := step(nil, "", shipgraph.DeploymentInProgress, "")
	if dep.Status != shipgraph.DeploymentInProgress || dep.StartedAt == nil {
		t.Fatalf("started: %+v", dep)
	}
	for _, n := range shipgraph.Stages[:3] {
		step(stage(n), shipgraph.StageRunning, shipgraph.DeploymentInProgress, "")
	}
	step(stage(shipgraph.StagePreChecks), shipgraph.StageSucceeded, shipgraph.DeploymentInProgress, "")
	dep = step(stage(shipgraph.StageBuildArtifacts), shipgraph.StageFailed, shipgraph.DeploymentInProgress, "disk full")
	if dep.Progress != 10 {
		t.Errorf("progress %d after PRE_CHECKS only, want 10", dep.Progress)
	}
	dep = step(nil, "", shipgraph.DeploymentFailed, "BUILD_ARTIFACTS: disk full")
	stages, _ := dep.Stages()
	want := map[shipgraph.StageName]shipgraph.StageStatus{
		shipgraph.StagePreChecks: shipgraph.StageSucceeded, shipgraph.StageBuildArtifacts: shipgraph.StageFailed,
		shipgraph.StagePrepareInfrastructure: shipgraph.StageCancelled, shipgraph.StageExecute: shipgraph.StagePending,
	}
	for _, st := range stages {
		if st.Status != want[st.Name] {
			t.Errorf("%s is %s, want %s", st.Name, st.Status, want[st.Name])
		}
		if st.Name == shipgraph.StageBuildArtifacts && (st.Error == nil || *st.Error != "disk full") {
			t.Errorf("the failed stage's error: %v", st.Error)
		}
	}
	if dep.Status != shipgraph.DeploymentFailed || dep.Error == nil || *dep.Error != "BUILD_ARTIFACTS: disk full" || dep.FinishedAt == nil {
		t.Fatalf("failed deployment: %+v", dep)
	}
	_, _, err := s.Transition(ctx, shipgraph.Transition{DeploymentID: d.ID, Status: shipgraph.DeploymentSucceeded})
	requireError(t, err, shipgraph.CodeConflict, "")
}

func TestCancelDeploymentCancelsTheJob(t *testing.T) {
	t.Parallel()
	s, d, _ := newDeployment(t, "staging")
	var cancelled []int64
	s.SetJobHook(postgres.JobHook{Cancel: func(ctx context.Context, tx pgx.Tx, jobID int64) error {
		cancelled = append(cancelled, jobID)
		return nil
	}})
	got, err := s.CancelDeployment(t.Context(), d.ID)
	if err != nil || got.Status != shipgraph.DeploymentCancelled {
		t.Fatalf("cancel: %v %+v", err, got)
	}
	if !slices.Equal(cancelled, []int64{1000 + d.ID}) {
		t.Fatalf("cancelled jobs %v", cancelled)
	}
	again, err := s.CancelDeployment(t.Context(), d.ID)
	if err != nil || again.Version != got.Version || len(cancelled) != 1 {
		t.Fatalf("cancelling a finished deployment changed it: %v %+v", err, again)
	}
}

// A batch is one transaction: its events take the next sequences in
// order, each with the progress its own transition gave; the deployment
// ends as the last one left it. A batch with a transition after the
// deployment's end is refused whole.
func TestTransitionsInOneBatch(t *testing.T) {
	t.Parallel()
	s, d, _ := newDeployment(t, "staging")
	ctx := t.Context()
	running := func(n shipgraph.StageName) shipgraph.Transition {
		return shipgraph.Transition{DeploymentID: d.ID, Stage: stage(n), StageStatus: shipgraph.StageRunning, Status: shipgraph.DeploymentInProgress, Message: string(n) + " started"}
	}
	succeeded := func(n shipgraph.StageName) shipgraph.Transition {
		t := running(n)
		t.StageStatus, t.Message = shipgraph.StageSucceeded, string(n)+" succeeded"
		return t
	}
	evs, dep, err := s.Transitions(ctx, []shipgraph.Transition{
		{DeploymentID: d.ID, Status: shipgraph.DeploymentInProgress, Message: "deployment started"},
		running(shipgraph.StagePreChecks), running(shipgraph.StageBuildArtifacts), running(shipgraph.StagePrepareInfrastructure),
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range evs {
		if e.Sequence != i+2 || e.DeploymentID != d.ID {
			t.Fatalf("event %d: sequence %d of deployment %d, want %d of %d", i, e.Sequence, e.DeploymentID, i+2, d.ID)
		}
	}
	if dep.Status != shipgraph.DeploymentInProgress || dep.StartedAt == nil {
		t.Fatalf("deployment after the batch: %+v", dep)
	}

	evs, dep, err = s.Transitions(ctx, []shipgraph.Transition{succeeded(shipgraph.StagePreChecks), succeeded(shipgraph.StageBuildArtifacts)})
	if err != nil {
		t.Fatal(err)
	}
	if evs[0].Sequence != 6 || evs[1].Sequence != 7 {
		t.Fatalf("sequences %d, %d, want 6, 7", evs[0].Sequence, evs[1].Sequence)
	}
	if evs[0].Progress >= evs[1].Progress || dep.Progress != evs[1].Progress {
		t.Fatalf("progress %d then %d, deployment %d: each event has its own, the deployment the last", evs[0].Progress, evs[1].Progress, dep.Progress)
	}

	_, _, err = s.Transitions(ctx, []shipgraph.Transition{
		succeeded(shipgraph.StagePrepareInfrastructure),
		{DeploymentID: d.ID, Status: shipgraph.DeploymentCancelled, Message: "deployment cancelled"},
		running(shipgraph.StageExecute),
	})
	requireError(t, err, shipgraph.CodeConflict, "")
	if n := countSQL(t, "SELECT count(*) FROM deployment_events WHERE deployment_id = $1", d.ID); n != 7 {
		t.Fatalf("%d events after a refused batch, want 7: it must write nothing", n)
	}
	got, err := s.DeploymentsByID(ctx, []int64{d.ID})
	if err != nil || got[0].Status != shipgraph.DeploymentInProgress {
		t.Fatalf("after a refused batch: %v %+v", err, got[0])
	}
}
