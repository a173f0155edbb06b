package pipeline

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// Runner does the work of one stage of a deployment.
type Runner interface {
	// Run performs stage for d. It must return soon (within a second) once
	// ctx is done, which is how timeouts, cancellation and shutdown stop
	// it. Each call of log records a line of output as an event of the
	// deployment; log is safe for concurrent use and may block while the
	// event is written. A nil error means the stage succeeded.
	Run(ctx context.Context, d *shipgraph.Deployment, stage shipgraph.StageName, log func(line string)) error
}

// NewRunner returns the runner cfg.Runner names.
func NewRunner(cfg Config) (Runner, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Runner == RunnerExec {
		return &ExecRunner{Dir: cfg.ExecDir}, nil
	}
	return &SimulateRunner{Duration: cfg.StageDuration, FailStage: cfg.FailStage}, nil
}

// SimulateRunner pretends to run stages: each takes Duration (and logs a
// line saying so), and FailStage fails. It lets a demo and the tests script success, failure
// and slowness without any infrastructure.
type SimulateRunner struct {
	Duration  time.Duration
	FailStage shipgraph.StageName
}

// Run waits Duration, or until ctx is done.
func (s *SimulateRunner) Run(ctx context.Context, d *shipgraph.Deployment, stage shipgraph.StageName, log func(string)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// A zero-length stage (benchmarks, tests) has nothing to report, and
	// each line is an event written to the database.
	if s.Duration > 0 {
		log(fmt.Sprintf("simulating %s of deployment %d to %s (%s)", strings.ToLower(string(stage)), d.ID, d.Environment, s.Duration))
		t := time.NewTimer(s.Duration)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	if stage == s.FailStage {
		return fmt.Errorf("simulated failure of %s (FailStage is set)", stage)
	}
	return nil
}

// maxLineLen caps the length of a recorded output line, in bytes: a
// progress bar or a dumped blob must not become a megabyte event.
const maxLineLen = 2000

// cleanLine makes a line of process output storable and readable: valid
// UTF-8 (PostgreSQL text rejects anything else), no NUL or other control
// characters except tabs (terminal escapes would garble GraphiQL), no
// trailing carriage return, at most maxLineLen bytes.
func cleanLine(s string) string {
	s = strings.TrimRight(s, "\r\n")
	s = strings.ToValidUTF8(s, "\uFFFD")
	clean := true
	for _, r := range s {
		if r != '\t' && unicode.IsControl(r) {
			clean = false
			break
		}
	}
	if !clean {
		s = strings.Map(func(r rune) rune {
			if r != '\t' && unicode.IsControl(r) {
				return -1
			}
			return r
		}, s)
	}
	return truncate(s, maxLineLen)
}

// truncate cuts s to at most n bytes, an ellipsis included, without
// splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}
