package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// fakeStore is an in-memory Store for the worker's own logic: ordering,
// concurrency, cancellation. It applies transitions like the real store
// (which the end-to-end tests use) and refuses them once the deployment is
// finished; it also checks that the worker never writes two at once.
type fakeStore struct {
	mu       sync.Mutex
	d        shipgraph.Deployment
	stages   []shipgraph.DeploymentStage
	events   []fakeEvent
	inflight atomic.Int32
	overlap  atomic.Bool
	// failOn, when it returns an error for a transition, fails it.
	failOn func(t shipgraph.Transition) error
}

type fakeEvent struct {
	seq int
	shipgraph.Transition
}

func (e fakeEvent) String() string {
	if e.Stage != nil {
		return fmt.Sprintf("#%d %s %s %q", e.seq, *e.Stage, e.StageStatus, e.Message)
	}
	return fmt.Sprintf("#%d %s %q", e.seq, e.Status, e.Message)
}

func newFakeStore() *fakeStore {
	return &fakeStore{
		d:      shipgraph.Deployment{ID: 42, BuildID: 7, FeatureID: 3, Environment: "staging", Status: shipgraph.DeploymentQueued},
		stages: shipgraph.PendingStages(),
	}
}

func (f *fakeStore) Transition(ctx context.Context, t shipgraph.Transition) (*shipgraph.DeploymentEvent, *shipgraph.Deployment, error) {
	if f.inflight.Add(1) > 1 {
		f.overlap.Store(true)
	}
	defer f.inflight.Add(-1)
	time.Sleep(time.Millisecond) // let an overlapping write show
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failOn != nil {
		if err := f.failOn(t); err != nil {
			return nil, nil, err
		}
	}
	if f.d.Status.Finished() {
		return nil, nil, shipgraph.Errorf(shipgraph.CodeConflict, "deployment is already %s", f.d.Status)
	}
	f.apply(t)
	d := f.snapshot()
	return &shipgraph.DeploymentEvent{Sequence: len(f.events), Status: t.Status, Message: t.Message}, d, nil
}

func (f *fakeStore) apply(t shipgraph.Transition) {
	if t.Stage != nil {
		for i := range f.stages {
			if f.stages[i].Name == *t.Stage {
				f.stages[i].Status = t.StageStatus
				if t.Error != "" {
					e := t.Error
					f.stages[i].Error = &e
				}
			}
		}
	}
	if t.Status.Finished() {
		for i := range f.stages {
			if f.stages[i].Status == shipgraph.StageRunning {
				f.stages[i].Status = shipgraph.StageCancelled
			}
		}
	}
	f.d.Status = t.Status
	f.d.Progress = shipgraph.ProgressOf(f.stages)
	if t.Status == shipgraph.DeploymentSucceeded {
		f.d.Progress = 100
	}
	if t.Status == shipgraph.DeploymentFailed {
		e := t.Error
		f.d.Error = &e
	}
	f.events = append(f.events, fakeEvent{seq: len(f.events) + 1, Transition: t})
}

func (f *fakeStore) snapshot() *shipgraph.Deployment {
	d := f.d
	d.StagesJSON, _ = json.Marshal(f.stages)
	return &d
}

func (f *fakeStore) DeploymentsByID(ctx context.Context, ids []int64) ([]*shipgraph.Deployment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*shipgraph.Deployment, len(ids))
	for i, id := range ids {
		if id == f.d.ID {
			out[i] = f.snapshot()
		}
	}
	return out, nil
}

// cancel does what the cancel mutation does to the deployment.
func (f *fakeStore) cancel() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.d.Status.Finished() {
		f.apply(shipgraph.Transition{DeploymentID: f.d.ID, Status: shipgraph.DeploymentCancelled, Message: "deployment cancelled"})
	}
}

func (f *fakeStore) setStage(name shipgraph.StageName, status shipgraph.StageStatus) {
	for i := range f.stages {
		if f.stages[i].Name == name {
			f.stages[i].Status = status
		}
	}
}

func (f *fakeStore) log() []fakeEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeEvent(nil), f.events...)
}

func (f *fakeStore) status() shipgraph.DeploymentStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.d.Status
}

// count counts the events of stage with status (any stage when stage is
// "", deployment-level events excluded).
func (f *fakeStore) count(stage shipgraph.StageName, status shipgraph.StageStatus) int {
	n := 0
	for _, e := range f.log() {
		if e.Stage != nil && (stage == "" || *e.Stage == stage) && e.StageStatus == status {
			n++
		}
	}
	return n
}

// index is the position of the first event matching, -1 if none.
func index(evs []fakeEvent, stage shipgraph.StageName, status shipgraph.StageStatus) int {
	for i, e := range evs {
		if e.Stage != nil && *e.Stage == stage && e.StageStatus == status {
			return i
		}
	}
	return -1
}

func (f *fakeStore) check(t *testing.T) {
	t.Helper()
	if f.overlap.Load() {
		t.Error("the worker wrote two transitions of one deployment at once")
	}
	for i, e := range f.log() {
		if e.seq != i+1 {
			t.Errorf("event %d has sequence %d", i, e.seq)
		}
	}
	if t.Failed() {
		t.Log(dump(f.log()))
	}
}

func dump(evs []fakeEvent) string {
	var b strings.Builder
	for _, e := range evs {
		b.WriteString("\n  " + e.String())
	}
	return b.String()
}

// funcRunner runs stages with a function.
type funcRunner func(ctx context.Context, stage shipgraph.StageName, log func(string)) error

func (r funcRunner) Run(ctx context.Context, d *shipgraph.Deployment, stage shipgraph.StageName, log func(string)) error {
	return r(ctx, stage, log)
}

func testWorker(store Store, runner Runner, stageTimeout time.Duration) *worker {
	cfg, err := Config{StageTimeout: stageTimeout}.withDefaults()
	if err != nil {
		panic(err)
	}
	return newWorker(store, runner, cfg, testLogger())
}

// blockUntilDone is a stage that runs until stopped.
func blockUntilDone(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestWorkerRunsPreparationConcurrentlyThenExecute(t *testing.T) {
	t.Parallel()
	f := newFakeStore()
	var arrived sync.WaitGroup
	arrived.Add(len(concurrentStages))
	allThere := make(chan struct{})
	go func() { arrived.Wait(); close(allThere) }()
	var executeSawSucceeded atomic.Int32
	runner := funcRunner(func(ctx context.Context, stage shipgraph.StageName, log func(string)) error {
		if stage == shipgraph.StageExecute {
			executeSawSucceeded.Store(int32(f.count("", shipgraph.StageSucceeded)))
			log("rolling out")
			return nil
		}
		arrived.Done()
		// Every preparation stage waits for the two others: this only
		// ends if the three run at once.
		select {
		case <-allThere:
		case <-time.After(5 * time.Second):
			return errors.New("the preparation stages did not run concurrently")
		}
		log("checked " + strings.ToLower(string(stage)))
		return nil
	})
	if err := testWorker(f, runner, time.Minute).deploy(t.Context(), 42, 1, MaxAttempts, ""); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	defer f.check(t)
	evs := f.log()
	if evs[0].Status != shipgraph.DeploymentInProgress || evs[0].Stage != nil || evs[0].Message != "deployment started" {
		t.Errorf("first event = %s, want the deployment starting", evs[0])
	}
	last := evs[len(evs)-1]
	if last.Status != shipgraph.DeploymentSucceeded || last.Stage != nil {
		t.Errorf("last event = %s, want the deployment succeeding", last)
	}
	if got := executeSawSucceeded.Load(); got != 3 {
		t.Errorf("EXECUTE started when %d stages had succeeded, want the 3 preparation stages", got)
	}
	for _, st := range shipgraph.Stages {
		run, ok := index(evs, st, shipgraph.StageRunning), index(evs, st, shipgraph.StageSucceeded)
		if run < 0 || ok < run {
			t.Errorf("%s: RUNNING at %d, SUCCEEDED at %d", st, run, ok)
		}
		lines := 0
		for _, e := range evs[run+1 : ok] {
			if e.Stage != nil && *e.Stage == st && e.StageStatus == shipgraph.StageRunning {
				lines++
			}
		}
		if lines != 1 {
			t.Errorf("%s: %d output lines between RUNNING and SUCCEEDED, want 1", st, lines)
		}
	}
	if exec := index(evs, shipgraph.StageExecute, shipgraph.StageRunning); exec < index(evs, shipgraph.StageBuildArtifacts, shipgraph.StageSucceeded) ||
		exec < index(evs, shipgraph.StagePreChecks, shipgraph.StageSucceeded) || exec < index(evs, shipgraph.StagePrepareInfrastructure, shipgraph.StageSucceeded) {
		t.Error("EXECUTE started before every preparation stage succeeded")
	}
	if d := f.snapshot(); d.Progress != 100 {
		t.Errorf("progress = %d, want 100", d.Progress)
	}
}

func TestWorkerFailureCancelsSiblings(t *testing.T) {
	t.Parallel()
	f := newFakeStore()
	var running sync.WaitGroup
	running.Add(2)
	var executeRan atomic.Bool
	runner := funcRunner(func(ctx context.Context, stage shipgraph.StageName, log func(string)) error {
		switch stage {
		case shipgraph.StageBuildArtifacts:
			running.Wait() // fail once both siblings are running
			return errors.New("compiler exploded")
		case shipgraph.StageExecute:
			executeRan.Store(true)
			return nil
		}
		running.Done()
		return blockUntilDone(ctx)
	})
	start := time.Now()
	if err := testWorker(f, runner, time.Minute).deploy(t.Context(), 42, 1, MaxAttempts, ""); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	defer f.check(t)
	if time.Since(start) > 2*time.Second {
		t.Errorf("deploy took %s after a failure", time.Since(start))
	}
	if executeRan.Load() {
		t.Error("EXECUTE ran after a preparation stage failed")
	}
	evs := f.log()
	failed := index(evs, shipgraph.StageBuildArtifacts, shipgraph.StageFailed)
	if failed < 0 || evs[failed].Error != "compiler exploded" {
		t.Fatalf("no BUILD_ARTIFACTS FAILED event with the error")
	}
	for _, st := range []shipgraph.StageName{shipgraph.StagePreChecks, shipgraph.StagePrepareInfrastructure} {
		c := index(evs, st, shipgraph.StageCancelled)
		if c < failed {
			t.Errorf("%s: CANCELLED at %d, want after the failure at %d", st, c, failed)
		} else if want := "cancelled: BUILD_ARTIFACTS failed"; !strings.Contains(evs[c].Message, want) {
			t.Errorf("%s: message %q, want %q", st, evs[c].Message, want)
		}
	}
	last := evs[len(evs)-1]
	if last.Status != shipgraph.DeploymentFailed || last.Error != "BUILD_ARTIFACTS: compiler exploded" {
		t.Errorf("last event = %s (error %q), want FAILED with BUILD_ARTIFACTS: compiler exploded", last, last.Error)
	}
	if index(evs, shipgraph.StageExecute, shipgraph.StageRunning) >= 0 {
		t.Error("EXECUTE was recorded RUNNING")
	}
}

func TestWorkerResumeSkipsSucceededStages(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		succeeded []shipgraph.StageName
		want      []shipgraph.StageName
	}{
		{"one preparation stage left", []shipgraph.StageName{shipgraph.StagePreChecks, shipgraph.StageBuildArtifacts},
			[]shipgraph.StageName{shipgraph.StagePrepareInfrastructure, shipgraph.StageExecute}},
		{"only EXECUTE left", concurrentStages, []shipgraph.StageName{shipgraph.StageExecute}},
		{"everything done but the end", shipgraph.Stages, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeStore()
			f.d.Status = shipgraph.DeploymentInProgress
			for _, s := range shipgraph.Stages {
				f.setStage(s, shipgraph.StageRunning) // where the crashed attempt left them
			}
			for _, s := range tc.succeeded {
				f.setStage(s, shipgraph.StageSucceeded)
			}
			var mu sync.Mutex
			var ran []shipgraph.StageName
			runner := funcRunner(func(ctx context.Context, stage shipgraph.StageName, log func(string)) error {
				mu.Lock()
				ran = append(ran, stage)
				mu.Unlock()
				return nil
			})
			w := testWorker(f, runner, time.Minute)
			if err := w.deploy(t.Context(), 42, 2, MaxAttempts, "Stuck job rescued by JobRescuer"); err != nil {
				t.Fatalf("deploy: %v", err)
			}
			defer f.check(t)
			if fmt.Sprint(ran) != fmt.Sprint(tc.want) {
				t.Errorf("ran %v, want %v", ran, tc.want)
			}
			evs := f.log()
			if want := fmt.Sprintf("resumed on %s (attempt 2)", w.host); evs[0].Message != want {
				t.Errorf("first message %q, want %q", evs[0].Message, want)
			}
			if f.status() != shipgraph.DeploymentSucceeded {
				t.Errorf("status %s, want SUCCEEDED", f.status())
			}
		})
	}
}

// startBlocked runs deploy in the background with every stage blocking,
// and returns once the three preparation stages are RUNNING.
func startBlocked(t *testing.T, f *fakeStore, ctx context.Context) (done chan error) {
	t.Helper()
	runner := &SimulateRunner{Duration: time.Hour}
	done = make(chan error, 1)
	go func() { done <- testWorker(f, runner, 2*time.Hour).deploy(ctx, 42, 1, MaxAttempts, "") }()
	eventually(t, 5*time.Second, "three stages running", func() bool {
		return f.count("", shipgraph.StageRunning) >= 6 // RUNNING + one output line each
	})
	return done
}

func waitDone(t *testing.T, done chan error, within time.Duration) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(within):
		t.Fatalf("deploy did not return within %s", within)
		return nil
	}
}

func TestWorkerCancellationStopsWithinASecond(t *testing.T) {
	t.Parallel()
	f := newFakeStore()
	ctx, cancelJob := context.WithCancelCause(t.Context())
	done := startBlocked(t, f, ctx)
	// What cancelDeployment does: the deployment is CANCELLED, then River
	// cancels the running job's context.
	f.cancel()
	n := len(f.log())
	cancelJob(river.ErrJobCancelledRemotely)
	if err := waitDone(t, done, time.Second); err != nil {
		t.Errorf("deploy = %v, want nil: a cancelled deployment has nothing to retry", err)
	}
	defer f.check(t)
	if evs := f.log(); len(evs) != n {
		t.Errorf("events after the cancellation:%s", dump(evs[n:]))
	}
}

func TestWorkerJobCancelledAloneCancelsDeployment(t *testing.T) {
	t.Parallel()
	f := newFakeStore()
	ctx, cancelJob := context.WithCancelCause(t.Context())
	done := startBlocked(t, f, ctx)
	cancelJob(river.ErrJobCancelledRemotely) // the job only, say from River's UI
	if err := waitDone(t, done, time.Second); err != nil {
		t.Errorf("deploy = %v, want nil", err)
	}
	defer f.check(t)
	if f.status() != shipgraph.DeploymentCancelled {
		t.Errorf("status %s, want CANCELLED: River never retries a job cancelled remotely", f.status())
	}
	if n := f.count("", shipgraph.StageCancelled); n != 3 {
		t.Errorf("%d stages recorded CANCELLED, want the 3 that were running", n)
	}
}

func TestWorkerStopsWhenDeploymentFinishedElsewhere(t *testing.T) {
	t.Parallel()
	f := newFakeStore()
	// Stages that keep logging: the first line written after the
	// deployment was cancelled is refused, which must stop them even
	// before River delivers the job's cancellation.
	runner := funcRunner(func(ctx context.Context, stage shipgraph.StageName, log func(string)) error {
		for {
			log("still working")
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	done := make(chan error, 1)
	go func() { done <- testWorker(f, runner, time.Hour).deploy(t.Context(), 42, 1, MaxAttempts, "") }()
	eventually(t, 5*time.Second, "stages running", func() bool { return f.count("", shipgraph.StageRunning) >= 6 })
	f.cancel()
	if err := waitDone(t, done, time.Second); err != nil {
		t.Errorf("deploy = %v, want nil", err)
	}
	f.check(t)
}

func TestWorkerShutdownHandsBack(t *testing.T) {
	t.Parallel()
	f := newFakeStore()
	ctx, stop := context.WithCancelCause(t.Context())
	done := startBlocked(t, f, ctx)
	stop(errors.New("stop initiated")) // River's shutdown cause
	err := waitDone(t, done, time.Second)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("deploy = %v, want context.Canceled, which River takes for a shutdown and hands back", err)
	}
	defer f.check(t)
	if f.status() != shipgraph.DeploymentInProgress {
		t.Errorf("status %s, want IN_PROGRESS", f.status())
	}
	if n := f.count("", shipgraph.StageCancelled) + f.count("", shipgraph.StageFailed); n != 0 {
		t.Errorf("%d stages were ended; interrupted stages must stay to be run again", n)
	}
	evs := f.log()
	if last := evs[len(evs)-1]; !strings.Contains(last.Message, "shutting down") {
		t.Errorf("last event %s, want a note that the server is shutting down", last)
	}
}

func TestWorkerStageTimeout(t *testing.T) {
	t.Parallel()
	f := newFakeStore()
	runner := funcRunner(func(ctx context.Context, stage shipgraph.StageName, log func(string)) error {
		if stage == shipgraph.StagePreChecks {
			return blockUntilDone(ctx)
		}
		return nil
	})
	if err := testWorker(f, runner, 100*time.Millisecond).deploy(t.Context(), 42, 1, MaxAttempts, ""); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	defer f.check(t)
	evs := f.log()
	i := index(evs, shipgraph.StagePreChecks, shipgraph.StageFailed)
	if i < 0 || evs[i].Error != "timed out after 100ms" {
		t.Fatalf("PRE_CHECKS did not fail with a timeout")
	}
	if last := evs[len(evs)-1]; last.Status != shipgraph.DeploymentFailed || last.Error != "PRE_CHECKS: timed out after 100ms" {
		t.Errorf("last event %s (error %q)", last, last.Error)
	}
}

func TestWorkerJobTimeoutFailsDeployment(t *testing.T) {
	t.Parallel()
	f := newFakeStore()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	err := testWorker(f, &SimulateRunner{Duration: time.Hour}, 2*time.Hour).deploy(ctx, 42, 1, MaxAttempts, "")
	if err != nil {
		t.Fatalf("deploy = %v, want nil", err)
	}
	defer f.check(t)
	evs := f.log()
	if last := evs[len(evs)-1]; last.Status != shipgraph.DeploymentFailed || !strings.HasPrefix(last.Error, "timed out") {
		t.Errorf("last event %s (error %q), want FAILED timed out", last, last.Error)
	}
}

func TestWorkerSkipsFinishedDeployment(t *testing.T) {
	t.Parallel()
	f := newFakeStore()
	f.d.Status = shipgraph.DeploymentCancelled
	ran := false
	runner := funcRunner(func(context.Context, shipgraph.StageName, func(string)) error { ran = true; return nil })
	if err := testWorker(f, runner, time.Minute).deploy(t.Context(), 42, 1, MaxAttempts, ""); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	if ran || len(f.log()) != 0 {
		t.Errorf("a cancelled deployment ran (%v) or got events:%s", ran, dump(f.log()))
	}
	// A deployment that no longer exists is no error either.
	if err := testWorker(f, runner, time.Minute).deploy(t.Context(), 999, 1, MaxAttempts, ""); err != nil {
		t.Errorf("deploy of a missing deployment: %v", err)
	}
}

func TestWorkerGivesUpOnLastAttempt(t *testing.T) {
	t.Parallel()
	f := newFakeStore()
	f.d.Status = shipgraph.DeploymentInProgress
	ran := false
	runner := funcRunner(func(context.Context, shipgraph.StageName, func(string)) error { ran = true; return nil })
	err := testWorker(f, runner, time.Minute).deploy(t.Context(), 42, MaxAttempts, MaxAttempts, "Stuck job rescued by JobRescuer")
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	defer f.check(t)
	if ran {
		t.Error("the last attempt ran stages")
	}
	evs := f.log()
	last := evs[len(evs)-1]
	if last.Status != shipgraph.DeploymentFailed || !strings.Contains(last.Error, "gave up after 4 attempts") ||
		!strings.Contains(last.Error, "stopped responding") {
		t.Errorf("last event %s (error %q), want FAILED with the reason", last, last.Error)
	}
}

func TestWorkerFinishesRecordedFailure(t *testing.T) {
	t.Parallel()
	f := newFakeStore()
	f.d.Status = shipgraph.DeploymentInProgress
	f.setStage(shipgraph.StagePreChecks, shipgraph.StageSucceeded)
	f.setStage(shipgraph.StageBuildArtifacts, shipgraph.StageFailed)
	boom := "boom"
	f.stages[1].Error = &boom
	ran := false
	runner := funcRunner(func(context.Context, shipgraph.StageName, func(string)) error { ran = true; return nil })
	if err := testWorker(f, runner, time.Minute).deploy(t.Context(), 42, 2, MaxAttempts, ""); err != nil {
		t.Fatalf("deploy: %v", err)
	}
	defer f.check(t)
	if ran {
		t.Error("stages ran although one had already failed")
	}
	if d := f.snapshot(); d.Status != shipgraph.DeploymentFailed || deref(d.Error, "") != "BUILD_ARTIFACTS: boom" {
		t.Errorf("deployment %s error %q, want FAILED BUILD_ARTIFACTS: boom", d.Status, deref(d.Error, ""))
	}
}

func TestWorkerWriteErrorRetriesAttempt(t *testing.T) {
	t.Parallel()
	f := newFakeStore()
	dbDown := shipgraph.Internal(errors.New("connection refused"))
	f.failOn = func(t shipgraph.Transition) error {
		if t.Stage != nil && *t.Stage == shipgraph.StageBuildArtifacts && t.StageStatus == shipgraph.StageSucceeded {
			return dbDown
		}
		return nil
	}
	runner := funcRunner(func(ctx context.Context, stage shipgraph.StageName, log func(string)) error {
		if stage == shipgraph.StageBuildArtifacts {
			return nil
		}
		return blockUntilDone(ctx)
	})
	err := testWorker(f, runner, time.Hour).deploy(t.Context(), 42, 1, MaxAttempts, "")
	if !errors.Is(err, dbDown) {
		t.Fatalf("deploy = %v, want the write error, for River to retry", err)
	}
	defer f.check(t)
	if n := f.count("", shipgraph.StageCancelled); n != 0 {
		t.Errorf("%d stages CANCELLED by an attempt error; they must stay to be run again", n)
	}
	if f.status() != shipgraph.DeploymentInProgress {
		t.Errorf("status %s, want IN_PROGRESS", f.status())
	}
	// The retry resumes and finishes it.
	f.failOn = nil
	if err := testWorker(f, funcRunner(func(context.Context, shipgraph.StageName, func(string)) error { return nil }), time.Hour).
		deploy(t.Context(), 42, 2, MaxAttempts, err.Error()); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if f.status() != shipgraph.DeploymentSucceeded {
		t.Errorf("after the retry: %s, want SUCCEEDED", f.status())
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := Config{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.Runner != RunnerSimulate || c.StageDuration != 0 || c.StageTimeout != 5*time.Minute || c.MaxConcurrent != 10 ||
		c.RescueAfter != 21*time.Minute {
		t.Errorf("defaults: %+v", c)
	}
	if jt := c.jobTimeout(); jt != 11*time.Minute || jt >= c.RescueAfter {
		t.Errorf("jobTimeout = %s", jt)
	}
	c, _ = Config{StageTimeout: time.Second, RescueAfter: 3 * time.Second}.withDefaults()
	if jt := c.jobTimeout(); jt != 2500*time.Millisecond {
		t.Errorf("jobTimeout = %s, want 2.5s", jt)
	}
	for _, bad := range []Config{
		{Runner: "docker"},
		{Runner: RunnerExec},
		{Runner: RunnerExec, ExecDir: "/nonexistent/dir"},
		{StageTimeout: time.Minute, RescueAfter: time.Minute},
		{FailStage: "DEPLOY"},
	} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	if got := retryDelay(1); got != time.Second {
		t.Errorf("retryDelay(1) = %s", got)
	}
	if got := retryDelay(10); got != 30*time.Second {
		t.Errorf("retryDelay(10) = %s", got)
	}
}
