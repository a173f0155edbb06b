package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

var testDeployment = &shipgraph.Deployment{ID: 42, BuildID: 7, FeatureID: 3, Environment: "staging"}

// lines collects log lines.
type lines struct {
	mu sync.Mutex
	l  []string
}

func (c *lines) log(s string) { c.mu.Lock(); c.l = append(c.l, s); c.mu.Unlock() }

func (c *lines) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.l...)
}

func (c *lines) has(sub string) bool {
	for _, l := range c.all() {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

func TestSimulateTakesStageDuration(t *testing.T) {
	t.Parallel()
	r := &SimulateRunner{Duration: 150 * time.Millisecond}
	var out lines
	start := time.Now()
	if err := r.Run(t.Context(), testDeployment, shipgraph.StagePreChecks, out.log); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > time.Second {
		t.Errorf("took %s, want about 150ms", d)
	}
	if n := len(out.all()); n < 1 || n > 2 {
		t.Errorf("%d log lines, want one or two", n)
	}
}

func TestSimulateZeroDuration(t *testing.T) {
	t.Parallel()
	start := time.Now()
	if err := (&SimulateRunner{}).Run(t.Context(), testDeployment, shipgraph.StageExecute, func(string) {}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("a zero-length stage took %s", d)
	}
}

func TestSimulateFailStage(t *testing.T) {
	t.Parallel()
	r := &SimulateRunner{FailStage: shipgraph.StageBuildArtifacts}
	for _, st := range shipgraph.Stages {
		err := r.Run(t.Context(), testDeployment, st, func(string) {})
		if st == shipgraph.StageBuildArtifacts {
			if err == nil || !strings.Contains(err.Error(), "simulated failure of BUILD_ARTIFACTS") {
				t.Errorf("%s: %v, want the simulated failure", st, err)
			}
		} else if err != nil {
			t.Errorf("%s: %v", st, err)
		}
	}
}

func TestSimulateHonoursCancellation(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	err := (&SimulateRunner{Duration: time.Hour}).Run(ctx, testDeployment, shipgraph.StageExecute, func(string) {})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("stopped after %s", d)
	}
}

func TestCleanLine(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain\n":                 "plain",
		"crlf\r\n":                "crlf",
		"tab\tok":                 "tab\tok",
		"nul\x00and\x1b[31mred":   "nuland[31mred",
		"bad \xff utf8":           "bad \uFFFD utf8",
		strings.Repeat("é", 1500): strings.Repeat("é", 998) + "…",
	} {
		got := cleanLine(in)
		if got != want {
			t.Errorf("cleanLine(%.40q) = %.40q…, want %.40q…", in, got, want)
		}
		if len(got) > maxLineLen {
			t.Errorf("cleanLine(%.40q) is %d bytes", in, len(got))
		}
	}
}

// The exec tests do not run in parallel: writing an executable while
// another goroutine forks can make exec fail with "text file busy".

// script writes an executable shell script named after stage into dir.
func script(t *testing.T, dir string, stage shipgraph.StageName, body string) {
	t.Helper()
	path := filepath.Join(dir, strings.ToLower(string(stage)))
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

// gone reports whether process pid has exited: no longer exists, or is a
// zombie waiting for a parent that is not us.
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) state ...: the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	var pid int
	eventually(t, 5*time.Second, "the pid file "+path, func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	})
	return pid
}

func TestExecSuccessWithLines(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("JWT_SECRET_KEY", "do-not-leak")
	script(t, dir, shipgraph.StagePreChecks, `
echo "deployment=$SHIPGRAPH_DEPLOYMENT_ID build=$SHIPGRAPH_BUILD_ID feature=$SHIPGRAPH_FEATURE_ID env=$SHIPGRAPH_ENVIRONMENT stage=$SHIPGRAPH_STAGE"
echo "secret=${JWT_SECRET_KEY:-unset}"
echo "a warning" >&2
echo
printf 'no newline at the end'`)
	var out lines
	err := (&ExecRunner{Dir: dir}).Run(t.Context(), testDeployment, shipgraph.StagePreChecks, out.log)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := out.all()
	for _, want := range []string{
		"deployment=42 build=7 feature=3 env=staging stage=PRE_CHECKS",
		"secret=unset",
		"a warning",
		"no newline at the end",
	} {
		if !out.has(want) {
			t.Errorf("missing line %q in %q", want, got)
		}
	}
	if len(got) != 4 {
		t.Errorf("lines %q, want 4 (blank lines dropped)", got)
	}
}

func TestExecNonZeroExit(t *testing.T) {
	dir := t.TempDir()
	script(t, dir, shipgraph.StageExecute, `
echo "rolling out"
echo "first problem" >&2
echo "disk full" >&2
exit 3`)
	var out lines
	err := (&ExecRunner{Dir: dir}).Run(t.Context(), testDeployment, shipgraph.StageExecute, out.log)
	if err == nil || err.Error() != "exit status 3: disk full" {
		t.Fatalf("err = %v, want exit status 3: disk full", err)
	}
	if !out.has("rolling out") || !out.has("first problem") {
		t.Errorf("lines %q", out.all())
	}
}

func TestExecTimeoutKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "grandchild.pid")
	// The stage's process starts a grandchild, then waits itself.
	script(t, dir, shipgraph.StageBuildArtifacts, `
sleep 30 &
echo $! > `+pidFile+`
echo "started $!"
sleep 30`)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	var out lines
	start := time.Now()
	err := (&ExecRunner{Dir: dir}).Run(ctx, testDeployment, shipgraph.StageBuildArtifacts, out.log)
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the context's deadline", err)
	}
	if elapsed > 1500*time.Millisecond {
		t.Errorf("Run returned %s after the start, want within a second of the timeout", elapsed)
	}
	grandchild := readPID(t, pidFile)
	eventually(t, 2*time.Second, "the grandchild sleep to die", func() bool { return gone(grandchild) })
	if !out.has("started") {
		t.Errorf("lines %q", out.all())
	}
}

func TestExecKillsWhatAStageLeavesBehind(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "daemon.pid")
	// Exits at once, leaving a child that holds stdout open.
	script(t, dir, shipgraph.StageExecute, `
sleep 30 &
echo $! > `+pidFile+`
echo done`)
	start := time.Now()
	if err := (&ExecRunner{Dir: dir}).Run(t.Context(), testDeployment, shipgraph.StageExecute, func(string) {}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Run took %s: it waited for the leftover child", d)
	}
	child := readPID(t, pidFile)
	eventually(t, 2*time.Second, "the leftover child to die", func() bool { return gone(child) })
}

func TestExecSIGTERMIsEnoughForWellBehavedScripts(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "cleaned")
	script(t, dir, shipgraph.StagePreChecks, `
trap 'echo cleanup > `+marker+`; exit 143' TERM
echo waiting
while :; do sleep 0.05; done`)
	ctx, cancel := context.WithCancel(t.Context())
	var out lines
	done := make(chan error, 1)
	go func() { done <- (&ExecRunner{Dir: dir}).Run(ctx, testDeployment, shipgraph.StagePreChecks, out.log) }()
	eventually(t, 5*time.Second, "the script to start", func() bool { return out.has("waiting") })
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Run did not return within a second of the cancellation")
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the script's TERM trap did not run: %v", err)
	}
}

func TestExecMissingExecutableSkipsStage(t *testing.T) {
	var out lines
	err := (&ExecRunner{Dir: t.TempDir()}).Run(t.Context(), testDeployment, shipgraph.StagePrepareInfrastructure, out.log)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !out.has("prepare_infrastructure: stage skipped") {
		t.Errorf("lines %q, want a line saying the stage was skipped", out.all())
	}
}

func TestExecNotExecutable(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "execute"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := (&ExecRunner{Dir: dir}).Run(t.Context(), testDeployment, shipgraph.StageExecute, func(string) {})
	if err == nil || !strings.Contains(err.Error(), "not an executable") {
		t.Errorf("err = %v", err)
	}
}

func TestExecCapsLines(t *testing.T) {
	dir := t.TempDir()
	script(t, dir, shipgraph.StageExecute, `
head -c 5000 /dev/zero | tr '\0' x
echo
seq 1 1200`)
	var out lines
	if err := (&ExecRunner{Dir: dir}).Run(t.Context(), testDeployment, shipgraph.StageExecute, out.log); err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := out.all()
	if len(got) != DefaultMaxLines+1 {
		t.Fatalf("%d lines, want %d and a truncation notice", len(got), DefaultMaxLines)
	}
	if first := got[0]; len(first) > maxLineLen || !strings.HasSuffix(first, "…") || !strings.HasPrefix(first, "xxxx") {
		t.Errorf("long line: %d bytes, ends %q", len(first), first[len(first)-5:])
	}
	if got[DefaultMaxLines-1] != "999" {
		t.Errorf("line %d = %q, want 999", DefaultMaxLines, got[DefaultMaxLines-1])
	}
	if !strings.Contains(got[DefaultMaxLines], "truncated") {
		t.Errorf("last line %q, want the truncation notice", got[DefaultMaxLines])
	}
}

func TestExecRunnerFromConfig(t *testing.T) {
	dir := t.TempDir()
	r, err := NewRunner(Config{Runner: RunnerExec, ExecDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if er, ok := r.(*ExecRunner); !ok || er.Dir != dir {
		t.Errorf("NewRunner = %#v", r)
	}
}
