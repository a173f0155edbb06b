package shipgraph

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// DeploymentStatus is where a deployment stands.
type DeploymentStatus string

// The deployment statuses. A deployment starts QUEUED.
const (
	DeploymentQueued     DeploymentStatus = "QUEUED"
	DeploymentInProgress DeploymentStatus = "IN_PROGRESS"
	DeploymentSucceeded  DeploymentStatus = "SUCCEEDED"
	DeploymentFailed     DeploymentStatus = "FAILED"
	DeploymentCancelled  DeploymentStatus = "CANCELLED"
)

// Valid reports whether s is a known status.
func (s DeploymentStatus) Valid() bool {
	switch s {
	case DeploymentQueued, DeploymentInProgress, DeploymentSucceeded, DeploymentFailed, DeploymentCancelled:
		return true
	}
	return false
}

// Active reports whether a deployment in status s is still running or about to.
func (s DeploymentStatus) Active() bool {
	return s == DeploymentQueued || s == DeploymentInProgress
}

// StageName names a step of the deployment pipeline.
type StageName string

// The stages. The first three run concurrently, then EXECUTE.
const (
	StagePreChecks             StageName = "PRE_CHECKS"
	StageBuildArtifacts        StageName = "BUILD_ARTIFACTS"
	StagePrepareInfrastructure StageName = "PREPARE_INFRASTRUCTURE"
	StageExecute               StageName = "EXECUTE"
)

// Stages lists every stage in display order.
var Stages = []StageName{StagePreChecks, StageBuildArtifacts, StagePrepareInfrastructure, StageExecute}

// StageStatus is where one stage stands.
type StageStatus string

// The stage statuses.
const (
	StagePending   StageStatus = "PENDING"
	StageRunning   StageStatus = "RUNNING"
	StageSucceeded StageStatus = "SUCCEEDED"
	StageFailed    StageStatus = "FAILED"
	StageCancelled StageStatus = "CANCELLED"
)

// DeploymentStage is the state of one stage, derived from the event log.
type DeploymentStage struct {
	Name       StageName   `json:"name"`
	Status     StageStatus `json:"status"`
	StartedAt  *time.Time  `json:"startedAt,omitempty"`
	FinishedAt *time.Time  `json:"finishedAt,omitempty"`
	Error      *string     `json:"error,omitempty"`
}

// Deployment is the rollout of a build to an environment. Its status,
// progress and stages are derived from its event log.
type Deployment struct {
	ID          int64            `db:"id"`
	BuildID     int64            `db:"build_id"`
	FeatureID   int64            `db:"feature_id"`
	Environment string           `db:"environment"`
	Status      DeploymentStatus `db:"status"`
	Progress    int              `db:"progress"`
	// StagesJSON is the stages column as stored; Stages decodes it, only
	// when a client asks for it.
	StagesJSON []byte     `db:"stages"`
	Error      *string    `db:"error"`
	StartedAt  *time.Time `db:"started_at"`
	FinishedAt *time.Time `db:"finished_at"`
	Version    int        `db:"version"`
	CreatedAt  time.Time  `db:"created_at"`
	UpdatedAt  time.Time  `db:"updated_at"`
}

// GlobalID is the deployment's opaque Relay ID.
func (d *Deployment) GlobalID() string { return EncodeID(KindDeployment, d.ID) }

// Stages returns the state of each stage.
func (d *Deployment) Stages() ([]DeploymentStage, error) {
	var stages []DeploymentStage
	if len(d.StagesJSON) == 0 {
		return stages, nil
	}
	if err := json.Unmarshal(d.StagesJSON, &stages); err != nil {
		return nil, Internal(fmt.Errorf("deployment %d: stages: %w", d.ID, err))
	}
	return stages, nil
}

// CursorOf returns the cursor of d in the given order.
func (d *Deployment) CursorOf(o Order) Cursor {
	if o.Field == OrderUpdatedAt {
		return Cursor{Field: o.Field, Value: timeKey(d.UpdatedAt), ID: d.ID}
	}
	return Cursor{Field: o.Field, Value: timeKey(d.CreatedAt), ID: d.ID}
}

// DeploymentEvent is one entry of a deployment's append-only event log.
// Sequence counts 1, 2, 3 … without gaps per deployment.
type DeploymentEvent struct {
	ID           int64            `db:"id"`
	DeploymentID int64            `db:"deployment_id"`
	Sequence     int              `db:"sequence"`
	Stage        *StageName       `db:"stage"`
	StageStatus  *StageStatus     `db:"stage_status"`
	Status       DeploymentStatus `db:"status"`
	Progress     int              `db:"progress"`
	Message      string           `db:"message"`
	OccurredAt   time.Time        `db:"occurred_at"`
}

// GlobalID is the event's opaque Relay ID.
func (e *DeploymentEvent) GlobalID() string { return EncodeID(KindDeploymentEvent, e.ID) }

// CursorOf returns the cursor of e; events are always in sequence order.
func (e *DeploymentEvent) CursorOf(o Order) Cursor {
	return Cursor{Field: OrderSequence, Value: intKey(e.Sequence), ID: e.ID}
}

// environmentSlug is a DNS label: what deployment targets are named after.
var environmentSlug = regexp.MustCompile(`^[a-z0-9-]{1,63}$`)

func validEnvironment(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if !environmentSlug.MatchString(s) {
		return "", InvalidField(field, "%s must be 1 to 63 of a-z, 0-9 and -", field)
	}
	return s, nil
}

// DeploymentFilter narrows a deployment listing. Zero values mean "any".
type DeploymentFilter struct {
	Environment string
	Status      DeploymentStatus
}

// Validate checks the filter.
func (f *DeploymentFilter) Validate() error {
	if f.Status != "" && !f.Status.Valid() {
		return InvalidField("filter.status", "unknown status %q", f.Status)
	}
	if f.Environment != "" {
		var err error
		f.Environment, err = validEnvironment("filter.environment", f.Environment)
		return err
	}
	return nil
}

// Matches reports whether d passes the filter.
func (f DeploymentFilter) Matches(d *Deployment) bool {
	return (f.Environment == "" || d.Environment == f.Environment) && (f.Status == "" || d.Status == f.Status)
}

// DeploymentQuery selects one page of deployments: of one build when BuildID
// is set, of one feature when FeatureID is set, else of everything.
type DeploymentQuery struct {
	FeatureID int64
	BuildID   int64
	Filter    DeploymentFilter
	Order     Order
	Page      PageArgs
}

// EventQuery selects one page of a deployment's events, in sequence order.
type EventQuery struct {
	DeploymentID int64
	Page         PageArgs
}

// Order is the fixed order of events: their sequence.
func (EventQuery) Order() Order { return Order{Field: OrderSequence} }

// Finished reports whether s is terminal.
func (s DeploymentStatus) Finished() bool { return s.Valid() && !s.Active() }

// DeploymentCreate is the input of a new deployment.
type DeploymentCreate struct {
	BuildID     int64
	Environment string
	// IdempotencyKey, when set, makes a retry return the deployment the
	// first request created instead of a second one.
	IdempotencyKey string
}

// idempotencyKey is what clients use as keys: UUIDs, hashes, request ids.
var idempotencyKey = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// Validate normalizes and checks the input in place.
func (in *DeploymentCreate) Validate() error {
	var err error
	if in.Environment, err = validEnvironment("environment", in.Environment); err != nil {
		return err
	}
	in.IdempotencyKey = strings.TrimSpace(in.IdempotencyKey)
	if in.IdempotencyKey != "" && !idempotencyKey.MatchString(in.IdempotencyKey) {
		return InvalidField("idempotencyKey", "idempotencyKey must be 1 to 128 of A-Z, a-z, 0-9 and . _ : -")
	}
	return nil
}

// Transition is one change of a deployment, recorded as an event: a stage
// starting, finishing or logging a line, or the deployment as a whole
// starting or ending.
type Transition struct {
	DeploymentID int64
	// Stage is the stage the transition is about; nil for the whole
	// deployment.
	Stage *StageName
	// StageStatus is the stage's new status; with a nil Stage, ignored.
	StageStatus StageStatus
	// Status is the deployment's new status.
	Status  DeploymentStatus
	Message string
	// Error explains a failure; it becomes the stage's and, when the
	// deployment fails, the deployment's error.
	Error string
}

// stageWeights are the shares of progress each stage is worth when it
// succeeds: the concurrent preparation stages half, the rollout the rest.
var stageWeights = map[StageName]int{
	StagePreChecks:             10,
	StageBuildArtifacts:        25,
	StagePrepareInfrastructure: 15,
	StageExecute:               50,
}

// ProgressOf derives a deployment's progress from its stages: the weights of
// the stages that succeeded (100 once every stage has).
func ProgressOf(stages []DeploymentStage) int {
	p := 0
	for _, s := range stages {
		if s.Status == StageSucceeded {
			p += stageWeights[s.Name]
		}
	}
	return min(p, 100)
}

// PendingStages is the stage list of a deployment that has not started.
func PendingStages() []DeploymentStage {
	out := make([]DeploymentStage, len(Stages))
	for i, n := range Stages {
		out[i] = DeploymentStage{Name: n, Status: StagePending}
	}
	return out
}
