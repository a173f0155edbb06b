package shipgraph

import (
	"regexp"
	"strings"
	"time"
)

// BuildStatus is where a build stands.
type BuildStatus string

// The build statuses. A build starts QUEUED.
const (
	BuildQueued    BuildStatus = "QUEUED"
	BuildRunning   BuildStatus = "RUNNING"
	BuildSucceeded BuildStatus = "SUCCEEDED"
	BuildFailed    BuildStatus = "FAILED"
	BuildCancelled BuildStatus = "CANCELLED"
)

// Valid reports whether s is a known status.
func (s BuildStatus) Valid() bool {
	switch s {
	case BuildQueued, BuildRunning, BuildSucceeded, BuildFailed, BuildCancelled:
		return true
	}
	return false
}

// Finished reports whether s is terminal.
func (s BuildStatus) Finished() bool {
	return s == BuildSucceeded || s == BuildFailed || s == BuildCancelled
}

// CanBecome reports whether a build may move from s to next:
// QUEUED→RUNNING→SUCCEEDED|FAILED, and QUEUED|RUNNING→CANCELLED.
func (s BuildStatus) CanBecome(next BuildStatus) bool {
	switch s {
	case BuildQueued:
		return next == BuildRunning || next == BuildCancelled
	case BuildRunning:
		return next == BuildSucceeded || next == BuildFailed || next == BuildCancelled
	}
	return false
}

// Build is one attempt to build a feature. Number counts 1, 2, … per feature
// and never repeats, even after deletions or under concurrent creation.
type Build struct {
	ID         int64       `db:"id"`
	FeatureID  int64       `db:"feature_id"`
	Number     int         `db:"number"`
	CommitSHA  string      `db:"commit_sha"`
	Branch     string      `db:"branch"`
	Status     BuildStatus `db:"status"`
	StartedAt  *time.Time  `db:"started_at"`
	FinishedAt *time.Time  `db:"finished_at"`
	Version    int         `db:"version"`
	CreatedAt  time.Time   `db:"created_at"`
	UpdatedAt  time.Time   `db:"updated_at"`
}

// GlobalID is the build's opaque Relay ID.
func (b *Build) GlobalID() string { return EncodeID(KindBuild, b.ID) }

// CursorOf returns the cursor of b in the given order.
func (b *Build) CursorOf(o Order) Cursor {
	c := Cursor{Field: o.Field, ID: b.ID}
	switch o.Field {
	case OrderUpdatedAt:
		c.Value = timeKey(b.UpdatedAt)
	case OrderNumber:
		c.Value = intKey(b.Number)
	default:
		c.Value = timeKey(b.CreatedAt)
	}
	return c
}

var (
	commitSHA = regexp.MustCompile(`^[0-9a-f]{7,64}$`)
	// branchChars is the conservative subset of git ref names that CI
	// systems agree on.
	branchChars = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)
)

// BuildCreate is the input of a new build.
type BuildCreate struct {
	FeatureID int64
	CommitSHA string
	Branch    string
}

// Validate normalizes and checks the input in place.
func (in *BuildCreate) Validate() error {
	in.CommitSHA = strings.ToLower(strings.TrimSpace(in.CommitSHA))
	if !commitSHA.MatchString(in.CommitSHA) {
		return InvalidField("commitSha", "commitSha must be 7 to 64 hexadecimal digits")
	}
	var err error
	in.Branch, err = validBranch("branch", in.Branch)
	return err
}

func validBranch(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 255 {
		return "", InvalidField(field, "%s must be 1 to 255 characters", field)
	}
	invalid := InvalidField(field, "%s is not a valid git branch name", field)
	if !branchChars.MatchString(s) || strings.Contains(s, "..") || strings.HasPrefix(s, "-") ||
		strings.HasSuffix(s, ".") || s == "HEAD" {
		return "", invalid
	}
	// The rules of git check-ref-format, per path segment.
	for _, seg := range strings.Split(s, "/") {
		if seg == "" || strings.HasPrefix(seg, ".") || strings.HasSuffix(seg, ".lock") {
			return "", invalid
		}
	}
	return s, nil
}

// BuildStatusUpdate moves a build to another status.
type BuildStatusUpdate struct {
	ID              int64
	Status          BuildStatus
	ExpectedVersion *int
}

// Validate checks the input.
func (in *BuildStatusUpdate) Validate() error {
	if !in.Status.Valid() {
		return InvalidField("status", "unknown status %q", in.Status)
	}
	return checkVersion(in.ExpectedVersion)
}

// BuildFilter narrows a build listing. Zero values mean "any".
type BuildFilter struct {
	Status BuildStatus
	Branch string
}

// Validate checks the filter.
func (f *BuildFilter) Validate() error {
	if f.Status != "" && !f.Status.Valid() {
		return InvalidField("filter.status", "unknown status %q", f.Status)
	}
	if f.Branch != "" {
		var err error
		f.Branch, err = validBranch("filter.branch", f.Branch)
		return err
	}
	return nil
}

// BuildQuery selects one page of builds: of one feature when FeatureID is
// set, else of all features.
type BuildQuery struct {
	FeatureID int64
	Filter    BuildFilter
	Order     Order
	Page      PageArgs
}
