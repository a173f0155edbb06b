package pipeline

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// Defaults of ExecRunner.
const (
	DefaultMaxLines  = 1000
	DefaultKillGrace = 500 * time.Millisecond
)

// ExecRunner runs operator-provided executables: Dir/<stage in lower case>
// for each stage, in its own process group, with the deployment's details
// in the environment:
//
//	SHIPGRAPH_DEPLOYMENT_ID, SHIPGRAPH_BUILD_ID, SHIPGRAPH_FEATURE_ID,
//	SHIPGRAPH_ENVIRONMENT, SHIPGRAPH_STAGE
//
// Every line the process writes to stdout or stderr becomes an event; a
// non-zero exit fails the stage with its status and last stderr line.
type ExecRunner struct {
	// Dir holds the executables; its path is also their working directory.
	Dir string
	// MaxLines caps the lines recorded per stage (default 1000): a chatty
	// script must not flood the event log. Later lines are read and
	// dropped, after one line saying so.
	MaxLines int
	// KillGrace is how long a stopped stage's processes get between
	// SIGTERM and SIGKILL (default 500ms), so that a stage stops within a
	// second of its timeout or cancellation.
	KillGrace time.Duration
}

// secretEnv are the server's own secrets, which a stage script has no use
// for: it inherits the rest of the server's environment (PATH, HOME, cloud
// credentials an operator provides) but not these.
var secretEnv = map[string]bool{
	"DATABASE_URL": true, "TEST_DATABASE_URL": true, "REDIS_URL": true,
	"JWT_SECRET_KEY": true, "PGPASSWORD": true, "PGPASSFILE": true,
}

// Run runs the stage's executable; a missing one skips the stage.
func (r *ExecRunner) Run(ctx context.Context, d *shipgraph.Deployment, stage shipgraph.StageName, log func(string)) error {
	path := filepath.Join(r.Dir, strings.ToLower(string(stage)))
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		log(fmt.Sprintf("no executable %s: stage skipped", path))
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	// Pipes of our own rather than exec's copying goroutines: cmd.Wait then
	// returns when the process exits, even if a child it left behind still
	// holds the pipes, and we can kill that child before draining them.
	outR, outW, err := os.Pipe()
	if err != nil {
		return err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return err
	}
	cmd := exec.Command(path)
	cmd.Dir = r.Dir
	cmd.Env = stageEnv(d, stage)
	cmd.Stdout, cmd.Stderr = outW, errW
	// Its own process group, so that stopping the stage reaches everything
	// it started, not only the process we know of.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return fmt.Errorf("start %s: %w", path, err)
	}
	pgid := cmd.Process.Pid

	sink := &lineSink{log: log, max: orDefault(r.MaxLines, DefaultMaxLines)}
	var readers sync.WaitGroup
	readers.Go(func() { sink.read(outR, false) })
	readers.Go(func() { sink.read(errR, true) })

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var waitErr error
	stopped := false
	select {
	case waitErr = <-exited:
	case <-ctx.Done():
		stopped = true
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		grace := time.NewTimer(orDefault(r.KillGrace, DefaultKillGrace))
		select {
		case waitErr = <-exited:
		case <-grace.C:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			waitErr = <-exited
		}
		grace.Stop()
	}
	// Nothing a stage started outlives it: whatever the leader left in its
	// group goes too (ESRCH when there is none), which also closes the
	// pipes it held.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	drained := make(chan struct{})
	go func() { readers.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(time.Second):
		// Something escaped the group (setsid) and keeps the pipes open:
		// stop reading rather than wait for it.
		outR.Close()
		errR.Close()
		<-drained
	}
	outR.Close()
	errR.Close()

	if stopped {
		return ctx.Err()
	}
	if waitErr == nil {
		return nil
	}
	var ee *exec.ExitError
	if !errors.As(waitErr, &ee) {
		return waitErr
	}
	msg := "exit status " + strconv.Itoa(ee.ExitCode())
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		msg = "killed by signal " + ws.Signal().String()
	}
	if last := sink.lastStderr(); last != "" {
		msg += ": " + truncate(last, 500)
	}
	return errors.New(msg)
}

// stageEnv is the server's environment without its secrets, plus the
// deployment's details.
func stageEnv(d *shipgraph.Deployment, stage shipgraph.StageName) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !secretEnv[k] {
			env = append(env, kv)
		}
	}
	// Appended last: exec keeps the last of duplicate keys.
	return append(env,
		"SHIPGRAPH_DEPLOYMENT_ID="+strconv.FormatInt(d.ID, 10),
		"SHIPGRAPH_BUILD_ID="+strconv.FormatInt(d.BuildID, 10),
		"SHIPGRAPH_FEATURE_ID="+strconv.FormatInt(d.FeatureID, 10),
		"SHIPGRAPH_ENVIRONMENT="+d.Environment,
		"SHIPGRAPH_STAGE="+string(stage),
	)
}

// lineSink turns a process's output into log lines: cleaned, capped in
// length and number, blank lines dropped.
type lineSink struct {
	log func(string)
	max int

	mu      sync.Mutex
	n       int
	lastErr string
}

// read splits r into lines until EOF (or the pipe is closed).
func (s *lineSink) read(r io.Reader, stderr bool) {
	br := bufio.NewReaderSize(r, 64<<10)
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		// Keep a little more than the cap so cleanLine still sees the
		// line is too long and marks the cut; drop the rest of the line.
		if room := maxLineLen + 8 - len(line); room > 0 {
			line = append(line, frag[:min(len(frag), room)]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(line) > 0 {
			s.emit(string(line), stderr)
			line = line[:0]
		}
		if err != nil {
			return
		}
	}
}

func (s *lineSink) emit(raw string, stderr bool) {
	line := cleanLine(raw)
	if strings.TrimSpace(line) == "" {
		return
	}
	// Under the lock so that the count and the order of the recorded lines
	// agree; log blocks while the event is written, which slows the
	// process down rather than buffering without bound.
	s.mu.Lock()
	defer s.mu.Unlock()
	if stderr {
		s.lastErr = line
	}
	s.n++
	switch {
	case s.n <= s.max:
		s.log(line)
	case s.n == s.max+1:
		s.log(fmt.Sprintf("output truncated: only the first %d lines are recorded", s.max))
	}
}

func (s *lineSink) lastStderr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// orDefault is v when positive, else def.
func orDefault[T int | time.Duration](v, def T) T {
	if v > 0 {
		return v
	}
	return def
}
