package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
	"github.com/shipgraph/shipgraph/internal/tracing"
)

// concurrentStages run together before EXECUTE: none depends on another.
var concurrentStages = []shipgraph.StageName{
	shipgraph.StagePreChecks, shipgraph.StageBuildArtifacts, shipgraph.StagePrepareInfrastructure,
}

var (
	// errDeploymentFinished says the deployment was finished by someone
	// else (cancelled, usually): nothing more may be recorded, and nothing
	// is left to retry.
	errDeploymentFinished = errors.New("deployment finished elsewhere")
	// errStageTimeout is the cause of a stage context that timed out, which
	// tells a timeout from the other reasons a stage is stopped.
	errStageTimeout = errors.New("stage timed out")
)

// siblingFailed is the cause with which a failing stage stops its siblings,
// which are then recorded CANCELLED.
type siblingFailed struct{ stage shipgraph.StageName }

func (e *siblingFailed) Error() string { return string(e.stage) + " failed" }

// attemptFailed is the cause with which an error outside the stages (the
// event could not be written) stops the other stages: they are left as
// they are, to run again when River retries the job.
type attemptFailed struct{ err error }

func (e *attemptFailed) Error() string { return e.err.Error() }

// writeTimeout bounds one event write. Writes do not use the job's
// context: the events that say how a deployment stopped are written after
// that context is cancelled.
const writeTimeout = 10 * time.Second

// handBackNoteTimeout bounds the note a shutting-down server leaves on the
// deployments it hands back; it is informative, shutdown must not wait.
const handBackNoteTimeout = 2 * time.Second

// worker runs deployments, one attempt per call of deploy.
type worker struct {
	store        Store
	runner       Runner
	observer     Observer
	log          *slog.Logger
	host         string
	stageTimeout time.Duration
	jobTimeout   time.Duration
	rescueAfter  time.Duration
	tracer       trace.Tracer
}

func newWorker(store Store, runner Runner, cfg Config, log *slog.Logger) *worker {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown host"
	}
	tp := cfg.TracerProvider
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	return &worker{
		store: store, runner: runner, observer: cfg.Observer, log: log, host: host,
		stageTimeout: cfg.StageTimeout, jobTimeout: cfg.jobTimeout(), rescueAfter: cfg.RescueAfter,
		tracer: tp.Tracer(tracing.InstrumentationName),
	}
}

// deploy runs one attempt of deployment id. It returns nil when the
// deployment reached an end (succeeded, failed, cancelled, or was already
// finished), the context's error when the server is shutting down (River
// hands the job back without using an attempt), and any other error when
// the attempt should be retried.
func (w *worker) deploy(ctx context.Context, id int64, attempt, maxAttempts int, lastErr string) error {
	log := w.log.With("deployment_id", id, "attempt", attempt)
	d, err := w.load(ctx, id)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	if d == nil {
		log.WarnContext(ctx, "deployment no longer exists; nothing to run")
		return nil
	}
	if d.Status.Finished() {
		// Cancelled while queued, or finished by an earlier attempt whose
		// completion River did not record.
		log.InfoContext(ctx, "deployment already finished", "status", d.Status)
		return nil
	}

	runCtx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)
	rec := &recorder{
		store: w.store, id: id, log: log, base: context.WithoutCancel(ctx), observer: w.observer,
		// A deployment finished elsewhere stops its stages at once, even
		// before River delivers the job's cancellation.
		onFinished: func() { cancelRun(errDeploymentFinished) },
	}

	if maxAttempts > 1 && attempt >= maxAttempts {
		// River discards a job whose last attempt errors or dies, and
		// nothing would ever finish its deployment: the last attempt
		// reports instead of trying once more.
		reason := fmt.Sprintf("gave up after %d attempts: %s", attempt-1, w.explain(lastErr))
		log.ErrorContext(ctx, "deployment failed", "reason", reason)
		return ended(rec.record(shipgraph.Transition{Status: shipgraph.DeploymentFailed, Message: "deployment failed: " + reason, Error: reason}))
	}

	msg := "deployment started"
	if d.Status != shipgraph.DeploymentQueued {
		msg = fmt.Sprintf("resumed on %s (attempt %d)", w.host, attempt)
		log.InfoContext(ctx, "resuming deployment")
	}
	if err := rec.record(shipgraph.Transition{Status: shipgraph.DeploymentInProgress, Message: msg}); err != nil {
		return ended(err)
	}

	stages, err := d.Stages()
	if err != nil {
		return err
	}
	state := make(map[shipgraph.StageName]shipgraph.DeploymentStage, len(stages))
	for _, s := range stages {
		state[s.Name] = s
	}
	// A stage that failed decided the outcome; an earlier attempt died
	// before recording it.
	for _, name := range shipgraph.Stages {
		if s := state[name]; s.Status == shipgraph.StageFailed {
			reason := string(name) + ": " + deref(s.Error, "failed")
			return ended(rec.record(shipgraph.Transition{Status: shipgraph.DeploymentFailed, Message: "deployment failed: " + reason, Error: reason}))
		}
	}

	// Resume from the first unfinished stage: what succeeded stays done.
	var first []shipgraph.StageName
	for _, name := range concurrentStages {
		if state[name].Status != shipgraph.StageSucceeded {
			first = append(first, name)
		}
	}
	res := w.runPhase(runCtx, rec, d, first)
	if res.ok() && state[shipgraph.StageExecute].Status != shipgraph.StageSucceeded {
		res = w.runPhase(runCtx, rec, d, []shipgraph.StageName{shipgraph.StageExecute})
	}
	return w.conclude(ctx, rec, res, log)
}

// conclude records how the attempt ended and tells River what to do.
func (w *worker) conclude(ctx context.Context, rec *recorder, res phaseResult, log *slog.Logger) error {
	if rec.isFinished() {
		log.InfoContext(ctx, "deployment was finished elsewhere; stopped")
		return nil
	}
	if res.failed != "" {
		reason := string(res.failed) + ": " + res.failure
		log.InfoContext(ctx, "deployment failed", "reason", reason)
		return ended(rec.record(shipgraph.Transition{Status: shipgraph.DeploymentFailed, Message: "deployment failed: " + reason, Error: reason}))
	}
	if ctx.Err() != nil {
		switch {
		case errors.Is(context.Cause(ctx), river.ErrJobCancelledRemotely):
			// Normally the deployment is already CANCELLED (the cancel
			// mutation records it with the job's cancellation) and the
			// first write below says so. If only the job was cancelled,
			// record the deployment's end here: River never retries a
			// job cancelled remotely.
			for _, st := range res.interrupted {
				if err := rec.record(stageTransition(st, shipgraph.StageCancelled, string(st)+" cancelled", "")); err != nil {
					return ended(err)
				}
			}
			log.InfoContext(ctx, "deployment cancelled through its job")
			return ended(rec.record(shipgraph.Transition{Status: shipgraph.DeploymentCancelled, Message: "deployment cancelled: its job was cancelled"}))
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			reason := fmt.Sprintf("timed out: an attempt may take at most %s", w.jobTimeout)
			log.WarnContext(ctx, "deployment failed", "reason", reason)
			return ended(rec.record(shipgraph.Transition{Status: shipgraph.DeploymentFailed, Message: "deployment failed: " + reason, Error: reason}))
		default:
			// Shutdown. Interrupted stages stay RUNNING: they run again,
			// from the start, when another worker resumes the deployment.
			log.InfoContext(ctx, "server shutting down; handing the deployment back")
			rec.note(handBackNoteTimeout, shipgraph.Transition{Status: shipgraph.DeploymentInProgress,
				Message: fmt.Sprintf("interrupted on %s: the server is shutting down; another worker will resume the deployment", w.host)})
			// context.Canceled is what River recognises as a shutdown.
			return ctx.Err()
		}
	}
	if res.err != nil {
		log.WarnContext(ctx, "deployment attempt failed; River will retry it", "error", res.err)
		return res.err
	}
	return ended(rec.record(shipgraph.Transition{Status: shipgraph.DeploymentSucceeded, Message: "deployment succeeded"}))
}

// phaseResult is how a group of concurrent stages ended.
type phaseResult struct {
	// failed is the first stage that failed, failure its error.
	failed  shipgraph.StageName
	failure string
	// err is the first error outside the stages (an event write).
	err error
	// interrupted are the stages stopped by the job's context; they are
	// still RUNNING in the event log.
	interrupted []shipgraph.StageName
	// notStarted counts stages skipped because the phase was already
	// stopped.
	notStarted int
}

func (r phaseResult) ok() bool {
	return r.failed == "" && r.err == nil && len(r.interrupted) == 0 && r.notStarted == 0
}

// runPhase runs stages concurrently; the first failure stops the others.
func (w *worker) runPhase(ctx context.Context, rec *recorder, d *shipgraph.Deployment, stages []shipgraph.StageName) phaseResult {
	gctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu  sync.Mutex
		res phaseResult
		wg  sync.WaitGroup
	)
	onFail := func(stage shipgraph.StageName, msg string) {
		mu.Lock()
		if res.failed == "" {
			res.failed, res.failure = stage, msg
		}
		mu.Unlock()
		cancel(&siblingFailed{stage: stage})
	}
	onErr := func(err error) {
		mu.Lock()
		if res.err == nil {
			res.err = err
		}
		mu.Unlock()
		cancel(&attemptFailed{err: err})
	}
	for _, st := range stages {
		wg.Go(func() {
			started, interrupted := w.runStage(gctx, rec, d, st, onFail, onErr)
			mu.Lock()
			defer mu.Unlock()
			if !started {
				res.notStarted++
			}
			if interrupted {
				res.interrupted = append(res.interrupted, st)
			}
		})
	}
	wg.Wait()
	return res
}

// runStage runs one stage and records its transitions: RUNNING, then
// SUCCEEDED, FAILED (calling onFail, after the event, so that the failure
// precedes the cancellations it causes), or CANCELLED when a sibling
// failed. A stage stopped for another reason (the job's context, an
// attempt error) records nothing more and reports interrupted.
func (w *worker) runStage(ctx context.Context, rec *recorder, d *shipgraph.Deployment, stage shipgraph.StageName,
	onFail func(shipgraph.StageName, string), onErr func(error)) (started, interrupted bool) {
	if ctx.Err() != nil {
		return false, false
	}
	ctx, span := w.tracer.Start(ctx, "stage "+string(stage), trace.WithAttributes(attribute.String("shipgraph.stage", string(stage))))
	defer span.End()
	if err := rec.record(stageTransition(stage, shipgraph.StageRunning, string(stage)+" started", "")); err != nil {
		if !errors.Is(err, errDeploymentFinished) {
			onErr(err)
		}
		return false, false
	}
	sctx, cancel := context.WithTimeoutCause(ctx, w.stageTimeout, errStageTimeout)
	start := time.Now()
	err := w.runner.Run(sctx, d, stage, func(line string) { rec.line(stage, line) })
	// Read before cancel, which would make every cause "canceled".
	timedOut := errors.Is(context.Cause(sctx), errStageTimeout)
	cancel()

	var t shipgraph.Transition
	switch {
	case err == nil:
		t = stageTransition(stage, shipgraph.StageSucceeded,
			fmt.Sprintf("%s succeeded in %s", stage, time.Since(start).Round(time.Millisecond)), "")
	case timedOut:
		msg := fmt.Sprintf("timed out after %s", w.stageTimeout)
		t = stageTransition(stage, shipgraph.StageFailed, string(stage)+" failed: "+msg, msg)
	case ctx.Err() == nil:
		msg := truncate(cleanLine(err.Error()), 1000)
		if msg == "" {
			msg = "failed"
		}
		t = stageTransition(stage, shipgraph.StageFailed, string(stage)+" failed: "+msg, msg)
	default:
		var sf *siblingFailed
		if !errors.As(context.Cause(ctx), &sf) {
			span.SetAttributes(attribute.String("shipgraph.stage.status", "INTERRUPTED"))
			return true, true
		}
		t = stageTransition(stage, shipgraph.StageCancelled, fmt.Sprintf("%s cancelled: %s failed", stage, sf.stage), "")
	}
	span.SetAttributes(attribute.String("shipgraph.stage.status", string(t.StageStatus)))
	if t.StageStatus == shipgraph.StageFailed {
		span.SetStatus(codes.Error, t.Error)
	}
	if err := rec.record(t); err != nil {
		if !errors.Is(err, errDeploymentFinished) {
			onErr(err)
		}
		return true, false
	}
	w.observer.StageFinished(stage, t.StageStatus, time.Since(start))
	if t.StageStatus == shipgraph.StageFailed {
		onFail(stage, t.Error)
	}
	return true, false
}

func (w *worker) load(ctx context.Context, id int64) (*shipgraph.Deployment, error) {
	ds, err := w.store.DeploymentsByID(ctx, []int64{id})
	if err != nil {
		return nil, fmt.Errorf("load deployment %d: %w", id, err)
	}
	if len(ds) == 0 {
		return nil, nil
	}
	return ds[0], nil
}

// explain turns River's record of the previous attempt's error into a
// reason a person can act on.
func (w *worker) explain(lastErr string) string {
	switch {
	case lastErr == "":
		return "no error was recorded"
	case strings.Contains(lastErr, "Stuck job rescued"):
		return fmt.Sprintf("the server running it stopped responding (no result after %s)", w.rescueAfter)
	}
	return truncate(cleanLine(lastErr), 1000)
}

func stageTransition(stage shipgraph.StageName, status shipgraph.StageStatus, msg, errMsg string) shipgraph.Transition {
	return shipgraph.Transition{Stage: &stage, StageStatus: status, Status: shipgraph.DeploymentInProgress, Message: msg, Error: errMsg}
}

// ended maps the result of a deployment's final write to the job's
// result: a deployment finished elsewhere is not an error.
func ended(err error) error {
	if errors.Is(err, errDeploymentFinished) {
		return nil
	}
	return err
}

func deref(s *string, def string) string {
	if s == nil || *s == "" {
		return def
	}
	return *s
}

// recorder writes a deployment's transitions one at a time. Concurrent
// stages share it: the store would serialize them anyway with its row
// lock, but then the order of the events would be the order in which
// transactions won the lock, not the order in which this worker decided
// them (a stage's RUNNING could follow its first output line).
type recorder struct {
	store      Store
	id         int64
	log        *slog.Logger
	base       context.Context
	onFinished func()
	observer   Observer

	mu       sync.Mutex
	finished bool
	observed bool // the observer was told how the deployment ended
}

// record writes t, or returns errDeploymentFinished once the deployment
// has been finished by someone else.
func (r *recorder) record(t shipgraph.Transition) error {
	return r.write(writeTimeout, t)
}

func (r *recorder) write(timeout time.Duration, t shipgraph.Transition) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return errDeploymentFinished
	}
	t.DeploymentID = r.id
	ctx, cancel := context.WithTimeout(r.base, timeout)
	defer cancel()
	_, d, err := r.store.Transition(ctx, t)
	if err == nil {
		if d != nil && d.Status.Finished() {
			r.observe(d.Status)
		}
		return nil
	}
	if status, ok := r.finishedElsewhere(ctx, err); ok {
		r.observe(status)
		r.finished = true
		r.onFinished()
		return errDeploymentFinished
	}
	return fmt.Errorf("deployment %d: record %q: %w", r.id, t.Message, err)
}

// finishedElsewhere reports whether err refused a transition because the
// deployment is finished (or gone), and with which status. CONFLICT alone
// is not proof: the store also reports a deadlock as one, which is worth
// retrying.
func (r *recorder) finishedElsewhere(ctx context.Context, err error) (shipgraph.DeploymentStatus, bool) {
	switch shipgraph.ErrorCode(err) {
	case shipgraph.CodeNotFound:
		return "", true // gone: no outcome to tell
	case shipgraph.CodeConflict:
		ds, lerr := r.store.DeploymentsByID(ctx, []int64{r.id})
		switch {
		case lerr != nil:
			return "", false
		case len(ds) == 0 || ds[0] == nil:
			return "", true
		case ds[0].Status.Finished():
			return ds[0].Status, true
		}
	}
	return "", false
}

// line records a line of a stage's output. Output is informative: a line
// that cannot be written is logged and dropped rather than failing the
// stage (a failed write takes no sequence number, so the log stays
// gapless).
func (r *recorder) line(stage shipgraph.StageName, line string) {
	err := r.record(stageTransition(stage, shipgraph.StageRunning, cleanLine(line), ""))
	if err != nil && !errors.Is(err, errDeploymentFinished) {
		r.log.WarnContext(r.base, "dropped a line of stage output", "stage", stage, "error", err)
	}
}

// note writes t on a best-effort basis.
func (r *recorder) note(timeout time.Duration, t shipgraph.Transition) {
	if err := r.write(timeout, t); err != nil && !errors.Is(err, errDeploymentFinished) {
		r.log.WarnContext(r.base, "could not record a note", "message", t.Message, "error", err)
	}
}

// observe tells the observer how the deployment ended, once. Called with
// r.mu held.
func (r *recorder) observe(status shipgraph.DeploymentStatus) {
	if status == "" || r.observed {
		return
	}
	r.observed = true
	r.observer.DeploymentFinished(status)
}

func (r *recorder) isFinished() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.finished
}
