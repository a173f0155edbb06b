// Package pipeline runs deployments: a durable River job per deployment,
// inserted in the transaction that creates the deployment, worked by
// whichever server instance claims it. The worker runs the stages
// (PRE_CHECKS, BUILD_ARTIFACTS and PREPARE_INFRASTRUCTURE concurrently, then
// EXECUTE) through a pluggable Runner and records every change as a
// deployment event through the Store.
//
// Durability comes from River: a job whose server dies is rescued after
// Config.RescueAfter and resumed by another worker from its first
// unfinished stage; a server that shuts down hands its running jobs back
// at once; a deployment that keeps failing for reasons outside its stages
// is failed with a clear reason on its last attempt instead of being left
// IN_PROGRESS.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
	"github.com/shipgraph/shipgraph/internal/tracing"
)

// The runner names Config.Runner accepts.
const (
	RunnerSimulate = "simulate"
	RunnerExec     = "exec"
)

// Defaults of Config.
const (
	DefaultStageDuration = 2 * time.Second
	DefaultStageTimeout  = 5 * time.Minute
	DefaultMaxConcurrent = 10
)

// QueueName is the River queue deployments run on. A queue of their own
// keeps MaxConcurrent a limit on deployments alone, whatever other kinds of
// job the application adds later.
const QueueName = "deployments"

// MaxAttempts is how many times River starts a deployment's job. A shutdown
// hands a job back without using an attempt; a crash (rescue) or an error
// outside the stages (the database unreachable, say) uses one. The last
// attempt runs no stage: it fails the deployment with the reason, so that a
// deployment never stays IN_PROGRESS after River gives up on its job.
const MaxAttempts = 5

// Config configures the pipeline.
type Config struct {
	// Runner chooses what a stage does: "simulate" (the default) or "exec".
	Runner string
	// StageDuration is how long each simulated stage takes. Zero is a
	// valid duration (benchmarks and tests use it), so the zero Config
	// means instant stages: configuration loaders should default it to
	// DefaultStageDuration (2s), what a demo wants.
	StageDuration time.Duration
	// FailStage makes that simulated stage fail, for demos and tests.
	FailStage shipgraph.StageName
	// ExecDir is, for the exec runner, the directory holding one executable
	// per stage, named like the stage in lower case (pre_checks,
	// build_artifacts, prepare_infrastructure, execute). A missing one
	// skips its stage.
	ExecDir string
	// StageTimeout bounds each stage; default 5m.
	StageTimeout time.Duration
	// MaxConcurrent is how many deployments one instance runs at once (its
	// River queue's MaxWorkers); default 10.
	MaxConcurrent int
	// RescueAfter is how long a job may run before another instance
	// considers its server dead and runs it again. River cannot tell a slow
	// job from a dead server, so it must exceed the longest legitimate run:
	// it defaults to 4 × StageTimeout + 1m and must be more than
	// 2 × StageTimeout (the concurrent stages, then EXECUTE).
	RescueAfter time.Duration
	// Observer, when set, is told of every stage and deployment this
	// instance's workers finish (metrics).
	Observer Observer
	// TracerProvider makes the spans of deployment jobs and their stages;
	// nil makes none. Not from the environment: the server passes its
	// tracing's provider (see internal/tracing).
	TracerProvider trace.TracerProvider

	// queue overrides QueueName; tests use one queue each so that the
	// pipelines of parallel tests do not work each other's deployments.
	queue string
	// noLeader keeps this client out of River's leader election (and thus
	// out of rescuing and scheduling); the crash test's doomed process uses
	// it so that the surviving pipeline becomes leader at once.
	noLeader bool
}

// withDefaults fills in the defaults and checks the values.
func (c Config) withDefaults() (Config, error) {
	if c.Runner == "" {
		c.Runner = RunnerSimulate
	}
	if c.StageDuration < 0 {
		return c, fmt.Errorf("pipeline: StageDuration %s is negative", c.StageDuration)
	}
	if c.StageTimeout <= 0 {
		c.StageTimeout = DefaultStageTimeout
	}
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = DefaultMaxConcurrent
	}
	if c.RescueAfter <= 0 {
		c.RescueAfter = 4*c.StageTimeout + time.Minute
	}
	if c.RescueAfter <= 2*c.StageTimeout {
		return c, fmt.Errorf("pipeline: RescueAfter (%s) must be more than twice StageTimeout (%s), or running deployments would be started again elsewhere", c.RescueAfter, c.StageTimeout)
	}
	if c.FailStage != "" && !validStage(c.FailStage) {
		return c, fmt.Errorf("pipeline: FailStage %q is not a stage (one of %v)", c.FailStage, shipgraph.Stages)
	}
	if c.queue == "" {
		c.queue = QueueName
	}
	if c.Observer == nil {
		c.Observer = noObserver{}
	}
	switch c.Runner {
	case RunnerSimulate:
	case RunnerExec:
		if c.ExecDir == "" {
			return c, errors.New("pipeline: the exec runner needs ExecDir")
		}
		dir, err := filepath.Abs(c.ExecDir)
		if err != nil {
			return c, fmt.Errorf("pipeline: ExecDir: %w", err)
		}
		fi, err := os.Stat(dir)
		if err != nil {
			return c, fmt.Errorf("pipeline: ExecDir: %w", err)
		}
		if !fi.IsDir() {
			return c, fmt.Errorf("pipeline: ExecDir %s is not a directory", dir)
		}
		c.ExecDir = dir
	default:
		return c, fmt.Errorf("pipeline: unknown runner %q (want %q or %q)", c.Runner, RunnerSimulate, RunnerExec)
	}
	return c, nil
}

// jobTimeout is River's deadline for one attempt: the two sequential
// phases at their longest, plus slack for the transitions, and always less
// than RescueAfter, which River requires so that a job is never rescued
// while its own deadline has not passed.
func (c Config) jobTimeout() time.Duration {
	slack := min(time.Minute, (c.RescueAfter-2*c.StageTimeout)/2)
	return 2*c.StageTimeout + slack
}

func validStage(s shipgraph.StageName) bool {
	for _, n := range shipgraph.Stages {
		if n == s {
			return true
		}
	}
	return false
}

// Observer watches the pipeline's outcomes. Its methods are called from
// the workers' goroutines and must not block.
type Observer interface {
	// StageFinished is called when a stage this instance ran ended:
	// SUCCEEDED, FAILED, or CANCELLED because a sibling failed. A stage
	// interrupted by a shutdown or a cancellation of the deployment is not
	// finished (it runs again, or the deployment's end says what happened).
	StageFinished(stage shipgraph.StageName, status shipgraph.StageStatus, d time.Duration)
	// DeploymentFinished is called once per deployment that ended while
	// this instance ran it: with the status it recorded, or with the status
	// it found recorded by someone else (CANCELLED through the API).
	DeploymentFinished(status shipgraph.DeploymentStatus)
}

// noObserver is the Observer of a Config without one.
type noObserver struct{}

func (noObserver) StageFinished(shipgraph.StageName, shipgraph.StageStatus, time.Duration) {}
func (noObserver) DeploymentFinished(shipgraph.DeploymentStatus)                           {}

// Store is what the pipeline needs of shipgraph.Store.
type Store interface {
	// Transition records one event and returns it with the deployment it
	// produced; a finished deployment refuses it with CodeConflict.
	Transition(ctx context.Context, t shipgraph.Transition) (*shipgraph.DeploymentEvent, *shipgraph.Deployment, error)
	// DeploymentsByID returns deployments in ids order, nil for missing ones.
	DeploymentsByID(ctx context.Context, ids []int64) ([]*shipgraph.Deployment, error)
}

// DeploymentArgs are the arguments of a deployment's job: only the id, so
// that the worker always starts from the deployment's current state (what
// a resumed attempt needs).
type DeploymentArgs struct {
	DeploymentID int64 `json:"deployment_id"`
	// Trace is the W3C trace context (traceparent, tracestate) of the
	// request that created the deployment, so that the job's spans link
	// to its trace; empty when that request was not traced.
	Trace map[string]string `json:"trace,omitempty"`
}

// Kind is the River job kind.
func (DeploymentArgs) Kind() string { return "deployment" }

// Pipeline is one instance's deployment runner: a River client with the
// deployment worker.
type Pipeline struct {
	pool   *pgxpool.Pool
	client *river.Client[pgx.Tx]
	worker *worker
	cfg    Config
	log    *slog.Logger
}

// fetchCooldown is how often, at most, the queue fetches jobs. River's
// default (100ms) with the default 10 slots caps an instance at 100
// deployments per second, the benchmark's target; a shorter cooldown lifts
// that cap at the price of more fetch queries while busy.
const fetchCooldown = 20 * time.Millisecond

// New builds the pipeline. It does not start working jobs (Start does), but
// EnqueueTx and CancelTx work at once.
func New(pool *pgxpool.Pool, store Store, cfg Config, log *slog.Logger) (*Pipeline, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "pipeline")
	runner, err := NewRunner(cfg)
	if err != nil {
		return nil, err
	}
	w := newWorker(store, runner, cfg, log)
	workers := river.NewWorkers()
	river.AddWorker(workers, &riverWorker{w: w})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Logger:                 log.With("component", "river"),
		Queues:                 map[string]river.QueueConfig{cfg.queue: {MaxWorkers: cfg.MaxConcurrent}},
		Workers:                workers,
		JobTimeout:             cfg.jobTimeout(),
		RescueStuckJobsAfter:   cfg.RescueAfter,
		MaxAttempts:            MaxAttempts,
		FetchCooldown:          fetchCooldown,
		LeaderElectionDisabled: cfg.noLeader,
	})
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	return &Pipeline{pool: pool, client: client, worker: w, cfg: cfg, log: log}, nil
}

// Start begins working deployments. ctx bounds only the start itself:
// River would treat its cancellation as a hard stop that burns an attempt
// of every running job, so stopping is left to Stop.
func (p *Pipeline) Start(ctx context.Context) error {
	if err := p.pool.Ping(ctx); err != nil {
		return fmt.Errorf("pipeline: start: %w", err)
	}
	if err := p.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("pipeline: start: %w", err)
	}
	p.log.Info("pipeline started", "runner", p.cfg.Runner, "max_concurrent", p.cfg.MaxConcurrent,
		"stage_timeout", p.cfg.StageTimeout, "rescue_after", p.cfg.RescueAfter)
	return nil
}

// handBackTimeout bounds the hard stop after a graceful one ran out of
// time: stages stop within a second, then each deployment records that it
// was interrupted.
const handBackTimeout = 10 * time.Second

// Stop shuts the pipeline down gracefully: it stops claiming deployments
// and lets running stages finish until ctx is done. Whatever still runs
// then is interrupted (its stages stop within a second) and handed back:
// River makes the job available again at once without using an attempt,
// and another instance resumes it from its first unfinished stage. Call it
// before closing the pool. It is safe to call without Start.
func (p *Pipeline) Stop(ctx context.Context) error {
	err := p.client.Stop(ctx)
	if err == nil || ctx.Err() == nil {
		return err
	}
	p.log.Warn("running deployments did not finish before the shutdown deadline; handing them back")
	hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), handBackTimeout)
	defer cancel()
	if err := p.client.StopAndCancel(hard); err != nil {
		return fmt.Errorf("pipeline: stop: %w", err)
	}
	return nil
}

// EnqueueTx inserts the job of a deployment in tx: it commits with the
// deployment or not at all, and no instance sees it before the commit. It
// works whether or not this instance runs workers. Install it with the
// store's job hook.
func (p *Pipeline) EnqueueTx(ctx context.Context, tx pgx.Tx, deploymentID int64) (jobID int64, err error) {
	args := DeploymentArgs{DeploymentID: deploymentID, Trace: map[string]string{}}
	if tracing.Inject(ctx, args.Trace); len(args.Trace) == 0 {
		args.Trace = nil
	}
	res, err := p.client.InsertTx(ctx, tx, args,
		&river.InsertOpts{Queue: p.cfg.queue, MaxAttempts: MaxAttempts})
	if err != nil {
		return 0, fmt.Errorf("pipeline: enqueue deployment %d: %w", deploymentID, err)
	}
	return res.Job.ID, nil
}

// CancelTx cancels a deployment's job in tx. A queued job never runs; a
// running one has its context cancelled, after the commit, on whichever
// instance runs it (River notifies it), which stops its stages within a
// second. A job that is already gone or finished is no error. Record the
// deployment CANCELLED in the same transaction: the worker then sees that
// and records nothing more.
func (p *Pipeline) CancelTx(ctx context.Context, tx pgx.Tx, jobID int64) error {
	_, err := p.client.JobCancelTx(ctx, tx, jobID)
	if errors.Is(err, river.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pipeline: cancel job %d: %w", jobID, err)
	}
	return nil
}

// migrateLockKey is the advisory lock that serializes River's migrations:
// rivermigrate takes none, and instances starting together would otherwise
// race to create the same tables. goose's lock uses another key.
const migrateLockKey int64 = 0x7368_6970_7276_6d67 // "shiprvmg"

// Migrate applies River's pending migrations (its job tables), holding an
// advisory lock so that instances starting at once apply them once.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)}) // its per-version lines are noise in our JSON logs
	if err != nil {
		return fmt.Errorf("pipeline: migrate: %w", err)
	}
	// A transaction-scoped lock: released by the rollback, or by the
	// server when the connection dies, whatever happens to this process.
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrateLockKey); err != nil {
			return fmt.Errorf("pipeline: migrate: lock: %w", err)
		}
		// rivermigrate logs each migration it applies.
		if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
			return fmt.Errorf("pipeline: migrate: %w", err)
		}
		return nil
	})
}

// riverWorker adapts the deployment worker to River.
type riverWorker struct {
	river.WorkerDefaults[DeploymentArgs]
	w *worker
}

// Work runs one attempt of a deployment.
func (rw *riverWorker) Work(ctx context.Context, job *river.Job[DeploymentArgs]) error {
	lastErr := ""
	if n := len(job.Errors); n > 0 {
		lastErr = job.Errors[n-1].Error
	}
	// A span per attempt. A new trace linked to the creating request's
	// rather than a child of it: the job runs later, maybe more than once,
	// on whichever instance claims it.
	opts := []trace.SpanStartOption{
		trace.WithNewRoot(),
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.Int64("shipgraph.deployment.id", job.Args.DeploymentID),
			attribute.Int64("river.job.id", job.ID),
			attribute.Int("river.job.attempt", job.Attempt),
		),
	}
	if sc := tracing.Extract(job.Args.Trace); sc.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
	}
	ctx, span := rw.w.tracer.Start(ctx, "deployment job", opts...)
	defer span.End()
	err := rw.w.deploy(ctx, job.Args.DeploymentID, job.Attempt, job.MaxAttempts, lastErr)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	return err
}

// Timeout is the attempt's deadline; see Config.jobTimeout.
func (rw *riverWorker) Timeout(*river.Job[DeploymentArgs]) time.Duration { return rw.w.jobTimeout }

// NextRetry retries soon: River's default backoff (attempt⁴ seconds) leaves
// a deployment showing IN_PROGRESS for minutes without moving, while the
// errors that reach River (a database hiccup, a rescued crash) are worth
// retrying right away. 1s, 4s, 9s, 16s.
func (rw *riverWorker) NextRetry(job *river.Job[DeploymentArgs]) time.Time {
	return time.Now().Add(retryDelay(job.Attempt))
}

func retryDelay(attempt int) time.Duration {
	return min(time.Duration(attempt*attempt)*time.Second, 30*time.Second)
}
