package main

// End-to-end tests with real server processes: the binary built from this
// package, started with exec as an operator would start it, sharing a
// PostgreSQL database (and Redis) with its peers. What they prove cannot be
// proved in one process: a deployment created on one instance runs on
// another, a worker killed with SIGKILL is replaced by another, and a
// subscriber loses nothing when Redis restarts.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/shipgraph/shipgraph/internal/auth"
	"github.com/shipgraph/shipgraph/internal/pgtest"
	"github.com/shipgraph/shipgraph/internal/redistest"
)

// procBinary is the server binary the process tests run: built once for
// the tests that run together (they are parallel), and deleted when the
// last of them ends.
var procBinary struct {
	mu    sync.Mutex
	dir   string
	users int
}

// serverBinary builds the server (go build -o <tmpdir>/shipgraph .) unless
// a running test already did, and returns its path.
func serverBinary(t *testing.T) string {
	t.Helper()
	procBinary.mu.Lock()
	defer procBinary.mu.Unlock()
	if procBinary.users == 0 {
		goTool, err := exec.LookPath("go")
		if err != nil {
			t.Fatalf("the go command is needed to build the server: %v", err)
		}
		dir, err := os.MkdirTemp("", "shipgraph-process-test-")
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		out, err := exec.Command(goTool, "build", "-o", filepath.Join(dir, "shipgraph"), ".").CombinedOutput()
		if err != nil {
			os.RemoveAll(dir)
			t.Fatalf("go build: %v\n%s", err, out)
		}
		t.Logf("built the server in %s", time.Since(start).Round(time.Millisecond))
		procBinary.dir = dir
	}
	procBinary.users++
	t.Cleanup(func() {
		procBinary.mu.Lock()
		defer procBinary.mu.Unlock()
		if procBinary.users--; procBinary.users == 0 {
			os.RemoveAll(procBinary.dir)
			procBinary.dir = ""
		}
	})
	return filepath.Join(procBinary.dir, "shipgraph")
}

// serverProcess is a shipgraph serve process.
type serverProcess struct {
	name string
	URL  string
	cmd  *exec.Cmd
	log  *processLog
	done chan struct{} // closed once the process has exited
}

// processLog keeps what a process writes on stderr, its JSON log.
type processLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *processLog) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
}

// contains reports whether a line of the log contains s.
func (l *processLog) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// await waits until a line satisfies match and returns it, failing the
// test after timeout.
func (l *processLog) await(t *testing.T, timeout time.Duration, match func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for seen := 0; ; {
		l.mu.Lock()
		lines := l.lines[seen:]
		seen = len(l.lines)
		l.mu.Unlock()
		for _, line := range lines {
			if match(line) {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no such log line in %s", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tail returns the last n lines.
func (l *processLog) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines[max(0, len(l.lines)-n):], "\n")
}

// inheritedEnv is the test's own environment without the variables that
// configure a server: the test decides those.
func inheritedEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "DATABASE_URL" || k == "REDIS_URL" || strings.HasPrefix(k, "SHIPGRAPH_") || strings.HasPrefix(k, "JWT_") || strings.HasPrefix(k, "OTEL_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// startProcess starts `shipgraph serve` on a free port with env (which
// must hold DATABASE_URL) and waits until /readyz answers 200. The process
// is killed when the test ends, and its log shown if the test failed.
func startProcess(t *testing.T, bin, name string, env map[string]string) *serverProcess {
	t.Helper()
	return startProcessArgs(t, bin, name, []string{"serve"}, env)
}

// startProcessArgs is startProcess with other arguments than "serve", e.g.
// "serve", "--dev".
func startProcessArgs(t *testing.T, bin, name string, args []string, env map[string]string) *serverProcess {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(inheritedEnv(),
		"SHIPGRAPH_ADDR=127.0.0.1:0",
		"SHIPGRAPH_ENV_FILE=testdata/none.env",
		"JWT_SECRET_KEY="+testJWTSecret,
		"SHIPGRAPH_SHUTDOWN_TIMEOUT=2s",
		// A few connections are plenty for one deployment; PostgreSQL's
		// 100 are shared with every other test running.
		"SHIPGRAPH_DB_MAX_CONNS=8",
	)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &serverProcess{name: name, cmd: cmd, log: &processLog{}, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("log of process %s (last lines):\n%s", name, p.log.tail(80))
		}
	})
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			p.log.add(line)
			var entry struct{ Msg, Addr string }
			if !sent && json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "serving" {
				addrc <- entry.Addr
				sent = true
			}
		}
		io.Copy(io.Discard, stderr)
		err := cmd.Wait()
		p.log.add(fmt.Sprintf("(process %s exited: %v)", name, err))
		close(p.done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	select {
	case p.URL = <-addrc:
	case <-p.done:
		t.Fatalf("process %s exited before serving:\n%s", name, p.log.tail(40))
	case <-time.After(time.Until(deadline)):
		t.Fatalf("process %s did not start serving in 30s:\n%s", name, p.log.tail(40))
	}
	for {
		req, _ := http.NewRequest(http.MethodGet, p.URL+"/readyz", nil)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		res, err := http.DefaultClient.Do(req.WithContext(ctx))
		if err == nil {
			res.Body.Close()
		}
		cancel()
		if err == nil && res.StatusCode == http.StatusOK {
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("process %s exited before it was ready:\n%s", name, p.log.tail(40))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %s not ready in 30s:\n%s", name, p.log.tail(40))
		}
	}
}

// kill sends SIGKILL, no chance to hand anything back, and waits for the
// process to be gone.
func (p *serverProcess) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Kill()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// api returns a client of the GraphQL API of p, with the helpers of the
// in-process tests (mustData, succeededBuild, …).
func (p *serverProcess) api() *testServer { return &testServer{URL: p.URL} }

// processDatabase creates a database for one test, dropped when it ends:
// a worker runs every deployment of its database.
func processDatabase(t *testing.T) *pgtest.Database {
	t.Helper()
	db, err := pgtest.Create(t.Context(), "proc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Drop(context.Background()) })
	return db
}

// progressWS is a graphql-transport-ws client of deploymentProgress, as a
// release dashboard would run it.
type progressWS struct {
	conn *websocket.Conn
}

type transportWSMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// procEvent is a DeploymentEvent as the subscription delivers it.
type procEvent struct {
	Sequence    int
	Status      string
	Stage       string
	StageStatus string
	Message     string
	received    time.Time
}

func (e procEvent) String() string {
	return fmt.Sprintf("#%d %s %s %s %q", e.Sequence, e.Status, e.Stage, e.StageStatus, e.Message)
}

func terminalStatus(s string) bool {
	return s == "SUCCEEDED" || s == "FAILED" || s == "CANCELLED"
}

// subscribeProgress connects to p with a token of its own in
// connection_init, and subscribes to the progress of deployment from its
// start.
func subscribeProgress(ctx context.Context, t *testing.T, p *serverProcess, deployment string) *progressWS {
	t.Helper()
	tok, err := testAuth.Mint("process-subscriber-"+token(t), []auth.Role{auth.RoleViewer}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(p.URL, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	c := &progressWS{conn: conn}
	init, _ := json.Marshal(map[string]any{"Authorization": "Bearer " + tok})
	c.send(ctx, t, transportWSMessage{Type: "connection_init", Payload: init})
	if m, err := c.read(ctx); err != nil || m.Type != "connection_ack" {
		t.Fatalf("connection_init: %s %s %v", m.Type, m.Payload, err)
	}
	sub, _ := json.Marshal(map[string]any{
		"query":     `subscription($id: ID!) { deploymentProgress(deploymentId: $id) { sequence status stage stageStatus message } }`,
		"variables": map[string]any{"id": deployment},
	})
	c.send(ctx, t, transportWSMessage{ID: "progress", Type: "subscribe", Payload: sub})
	return c
}

func (c *progressWS) send(ctx context.Context, t *testing.T, m transportWSMessage) {
	t.Helper()
	if err := wsjson.Write(ctx, c.conn, m); err != nil {
		t.Fatal(err)
	}
}

// read returns the next message that is not a keep-alive, answering the
// server's pings on the way.
func (c *progressWS) read(ctx context.Context) (transportWSMessage, error) {
	for {
		var m transportWSMessage
		if err := wsjson.Read(ctx, c.conn, &m); err != nil {
			return m, err
		}
		switch m.Type {
		case "ping":
			if err := wsjson.Write(ctx, c.conn, transportWSMessage{Type: "pong"}); err != nil {
				return m, err
			}
		case "pong":
		default:
			return m, nil
		}
	}
}

// collect reads the subscription until it completes and returns the
// events, failing the test on a gap, a duplicate, an event after the
// terminal one, or a stream that ends without one. onEvent, when set, is
// called (on the test's goroutine) with the events so far after each one.
// diagnose adds to the failure message.
func (c *progressWS) collect(ctx context.Context, t *testing.T, onEvent func([]procEvent), diagnose func() string) []procEvent {
	t.Helper()
	var evs []procEvent
	fail := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if diagnose != nil {
			msg += "\n" + diagnose()
		}
		t.Fatalf("%s\nevents received:\n%s", msg, eventList(evs))
	}
	for {
		m, err := c.read(ctx)
		if err != nil {
			fail("subscription ended without completing: %v", err)
		}
		switch m.Type {
		case "next":
			var p struct {
				Data   struct{ DeploymentProgress procEvent }
				Errors []any
			}
			if err := json.Unmarshal(m.Payload, &p); err != nil || len(p.Errors) > 0 {
				fail("next: %s", m.Payload)
			}
			e := p.Data.DeploymentProgress
			e.received = time.Now()
			if len(evs) > 0 && terminalStatus(evs[len(evs)-1].Status) {
				fail("%s came after the terminal event", e)
			}
			if e.Sequence != len(evs)+1 {
				fail("event %d has sequence %d: a gap or a duplicate (%s)", len(evs)+1, e.Sequence, e)
			}
			evs = append(evs, e)
			if onEvent != nil {
				onEvent(evs)
			}
		case "complete":
			if len(evs) == 0 || !terminalStatus(evs[len(evs)-1].Status) {
				fail("completed before the terminal event")
			}
			return evs
		default:
			fail("unexpected %s: %s", m.Type, m.Payload)
		}
	}
}

func eventList(evs []procEvent) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "  %s\n", e)
	}
	return b.String()
}

// createProcessDeployment creates a deployment of a new succeeded build
// through p and returns its id.
func createProcessDeployment(t *testing.T, p *serverProcess) string {
	t.Helper()
	_, build := p.api().succeededBuild(t)
	var created createdDeployment
	p.api().mustData(t, createDeployment, map[string]any{"b": build, "env": "production"}, &created)
	if !created.CreateDeployment.Created || created.CreateDeployment.Deployment.Status != "QUEUED" {
		t.Fatalf("created %+v", created.CreateDeployment)
	}
	return created.CreateDeployment.Deployment.ID
}

// finalDeployment is a deployment as the API reports it once finished.
type finalDeployment struct {
	Status   string
	Progress int
	Error    *string
	Stages   []struct{ Name, Status string }
}

func readDeployment(t *testing.T, p *serverProcess, id string) finalDeployment {
	t.Helper()
	var out struct{ Deployment finalDeployment }
	p.api().mustData(t, `query($id: ID!) { deployment(id: $id) { status progress error stages { name status } } }`, map[string]any{"id": id}, &out)
	return out.Deployment
}

// checkSucceeded checks what the API says of a deployment whose stream
// ended SUCCEEDED.
func checkSucceeded(t *testing.T, p *serverProcess, id string) {
	t.Helper()
	d := readDeployment(t, p, id)
	if d.Status != "SUCCEEDED" || d.Progress != 100 || len(d.Stages) != 4 {
		t.Fatalf("deployment %+v", d)
	}
	for _, st := range d.Stages {
		if st.Status != "SUCCEEDED" {
			t.Errorf("stage %s is %s", st.Name, st.Status)
		}
	}
}

// riverState describes the deployment jobs and the River leader of a
// database, for failure messages.
func riverState(db *pgtest.Database) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var b strings.Builder
	rows, err := db.DB.Pool.Query(ctx, `SELECT id, state, attempt, coalesce(attempted_at::text, ''), scheduled_at::text, errors::text FROM river_job ORDER BY id`)
	if err == nil {
		for rows.Next() {
			var id int64
			var state, attemptedAt, scheduledAt string
			var attempt int
			var errs *string
			if rows.Scan(&id, &state, &attempt, &attemptedAt, &scheduledAt, &errs) == nil {
				fmt.Fprintf(&b, "river job %d: %s, attempt %d, attempted at %s, scheduled at %s, errors %v\n", id, state, attempt, attemptedAt, scheduledAt, orNull(errs))
			}
		}
		rows.Close()
	}
	var leader, expires, now string
	if db.DB.Pool.QueryRow(ctx, `SELECT leader_id, expires_at::text, now()::text FROM river_leader`).Scan(&leader, &expires, &now) == nil {
		fmt.Fprintf(&b, "river leader %s until %s (now %s)\n", leader, expires, now)
	}
	return b.String()
}

func orNull(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

// Two instances sharing PostgreSQL and Redis: A serves the API and runs no
// deployment, B runs them; a subscriber of A sees every event B records,
// in order and without a gap, to the end.
func TestProcessSubscriberSeesADeploymentRunByAnotherProcess(t *testing.T) {
	t.Parallel()
	bin := serverBinary(t)
	db := processDatabase(t)
	redisURL := redistest.URL(t)
	shared := map[string]string{
		"DATABASE_URL":           db.URL,
		"REDIS_URL":              redisURL,
		"SHIPGRAPH_REDIS_PREFIX": redistest.Prefix(t, redisURL),
	}
	a := startProcess(t, bin, "A", withEnv(shared, map[string]string{"SHIPGRAPH_RUN_DEPLOYMENTS": "false"}))
	b := startProcess(t, bin, "B", withEnv(shared, map[string]string{"SHIPGRAPH_RUN_DEPLOYMENTS": "true", "SHIPGRAPH_STAGE_DURATION": "200ms"}))

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	start := time.Now()
	id := createProcessDeployment(t, a)
	ws := subscribeProgress(ctx, t, a, id)
	evs := ws.collect(ctx, t, nil, func() string { return riverState(db) })
	if last := evs[len(evs)-1]; last.Status != "SUCCEEDED" {
		t.Fatalf("the stream ended on %s:\n%s", last, eventList(evs))
	}
	// QUEUED, started, 4 × (RUNNING, the simulation's line, SUCCEEDED),
	// SUCCEEDED.
	if len(evs) != 15 {
		t.Errorf("%d events, want 15:\n%s", len(evs), eventList(evs))
	}
	checkSucceeded(t, a, id)
	if a.log.contains(`"msg":"pipeline started"`) || !b.log.contains(`"msg":"pipeline started"`) {
		t.Errorf("the pipeline ran on A or not on B")
	}
	t.Logf("%d events from B reached the subscriber of A in %s", len(evs), time.Since(start).Round(time.Millisecond))
}

// withEnv returns a copy of base with extra added.
func withEnv(base, extra map[string]string) map[string]string {
	m := make(map[string]string, len(base)+len(extra))
	for k, v := range base {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

// kill -9 of the process running a deployment, mid-stage: another worker
// resumes it once River's rescuer sees it stuck, and a subscriber of a
// third instance sees one gapless sequence to the terminal event.
//
// How long that takes is River's: the rescuer runs on the leader, and the
// leader was the killed process, whose lease (15 s) must expire before the
// survivor is elected (it tries every 5 s). The new leader rescues at once
// the jobs that have been running longer than SHIPGRAPH_RESCUE_AFTER, then
// only every 30 s: RESCUE_AFTER is short enough (7 s, more than twice the
// 3 s stage timeout) for the job to qualify by the time the lease expires.
func TestProcessCrashMidDeploymentIsResumedByAnotherWorker(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for River to rescue a job from a killed process (about 20 s)")
	}
	t.Parallel()
	bin := serverBinary(t)
	db := processDatabase(t)
	redisURL := redistest.URL(t)
	shared := map[string]string{
		"DATABASE_URL":             db.URL,
		"REDIS_URL":                redisURL,
		"SHIPGRAPH_REDIS_PREFIX":   redistest.Prefix(t, redisURL),
		"SHIPGRAPH_STAGE_DURATION": "2s",
		"SHIPGRAPH_STAGE_TIMEOUT":  "3s",
		"SHIPGRAPH_RESCUE_AFTER":   "7s",
	}
	a := startProcess(t, bin, "A", withEnv(shared, map[string]string{"SHIPGRAPH_RUN_DEPLOYMENTS": "false"}))
	b := startProcess(t, bin, "B", withEnv(shared, map[string]string{"SHIPGRAPH_RUN_DEPLOYMENTS": "true"}))

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	id := createProcessDeployment(t, a)
	ws := subscribeProgress(ctx, t, a, id)

	var (
		killedAt  time.Time
		killedSeq int // the last event seen before the kill
	)
	evs := ws.collect(ctx, t, func(evs []procEvent) {
		if !killedAt.IsZero() {
			return
		}
		running := map[string]bool{}
		for _, e := range evs {
			if e.StageStatus == "RUNNING" {
				running[e.Stage] = true
			}
		}
		if !running["PRE_CHECKS"] || !running["BUILD_ARTIFACTS"] || !running["PREPARE_INFRASTRUCTURE"] {
			return
		}
		// The three concurrent stages run on B, 2 s each.
		b.kill()
		killedAt, killedSeq = time.Now(), evs[len(evs)-1].Sequence
		t.Logf("killed B (SIGKILL) after event %d", killedSeq)
		startProcess(t, bin, "C", withEnv(shared, map[string]string{"SHIPGRAPH_RUN_DEPLOYMENTS": "true"}))
	}, func() string {
		if killedAt.IsZero() {
			return "B was not killed: " + riverState(db)
		}
		return fmt.Sprintf("%s after the kill:\n%s", time.Since(killedAt).Round(time.Millisecond), riverState(db))
	})
	if killedAt.IsZero() {
		t.Fatalf("the deployment ended before B was killed:\n%s", eventList(evs))
	}
	last := evs[len(evs)-1]
	t.Logf("the deployment ended %s, %s after the kill, at event %d:\n%s", last.Status, last.received.Sub(killedAt).Round(time.Millisecond), last.Sequence, eventList(evs))

	resumed := slices.IndexFunc(evs, func(e procEvent) bool {
		return strings.HasPrefix(e.Message, "resumed on ") && strings.HasSuffix(e.Message, "(attempt 2)")
	})
	if resumed < 0 || resumed < killedSeq {
		t.Fatalf("no event says the deployment was resumed after the kill:\n%s", eventList(evs))
	}
	d := readDeployment(t, a, id)
	if d.Status != last.Status {
		t.Fatalf("the API says %s, the stream ended %s", d.Status, last.Status)
	}
	switch last.Status {
	case "SUCCEEDED":
		checkSucceeded(t, a, id)
		// The stages the kill interrupted ran again, from RUNNING.
		for _, st := range []string{"PRE_CHECKS", "BUILD_ARTIFACTS", "PREPARE_INFRASTRUCTURE", "EXECUTE"} {
			ran := slices.IndexFunc(evs[resumed:], func(e procEvent) bool { return e.Stage == st && e.StageStatus == "RUNNING" })
			done := slices.IndexFunc(evs[resumed:], func(e procEvent) bool { return e.Stage == st && e.StageStatus == "SUCCEEDED" })
			if ran < 0 || done < ran {
				t.Errorf("%s did not run again after the resume:\n%s", st, eventList(evs))
			}
		}
	case "FAILED":
		// Allowed, with a reason: an attempt that ran out of time on a
		// starved machine, say. Never IN_PROGRESS forever.
		if d.Error == nil || *d.Error == "" || !strings.HasPrefix(last.Message, "deployment failed: ") {
			t.Fatalf("failed without a reason: %+v, %s", d, last)
		}
		t.Logf("the resumed deployment failed: %s", *d.Error)
	default:
		t.Fatalf("the deployment ended %s:\n%s", last.Status, eventList(evs))
	}
}

// Redis killed and restarted on the same port while a deployment streams:
// what was published while it was down is lost in pub/sub, and the
// subscriber refills it from PostgreSQL; it sees every event, in order, to
// the terminal one.
func TestProcessRedisRestartMidStreamLosesNoEvent(t *testing.T) {
	t.Parallel()
	r := redistest.StartServer(t)
	bin := serverBinary(t)
	db := processDatabase(t)

	shared := map[string]string{
		"DATABASE_URL":             db.URL,
		"REDIS_URL":                r.URL(),
		"SHIPGRAPH_REDIS_PREFIX":   "shipgraph-restart-test:",
		"SHIPGRAPH_STAGE_DURATION": "1s",
	}
	a := startProcess(t, bin, "A", withEnv(shared, map[string]string{"SHIPGRAPH_RUN_DEPLOYMENTS": "false"}))
	b := startProcess(t, bin, "B", withEnv(shared, map[string]string{"SHIPGRAPH_RUN_DEPLOYMENTS": "true"}))

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	id := createProcessDeployment(t, a)
	ws := subscribeProgress(ctx, t, a, id)

	restarted := false
	evs := ws.collect(ctx, t, func(evs []procEvent) {
		if restarted || evs[len(evs)-1].StageStatus != "RUNNING" {
			return
		}
		// Stages are running on B: kill Redis, wait until B has failed to
		// publish an event it committed (lost to pub/sub, in the log
		// only), then start Redis again.
		r.Kill()
		lost := b.log.await(t, 10*time.Second, func(line string) bool {
			var entry struct{ Msg string }
			return json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "publish deployment event"
		})
		r.Start()
		restarted = true
		t.Logf("Redis restarted; the subscriber had %d events, B could not publish: %s", len(evs), lost)
	}, nil)
	if !restarted {
		t.Fatalf("Redis was never restarted:\n%s", eventList(evs))
	}
	if last := evs[len(evs)-1]; last.Status != "SUCCEEDED" || len(evs) != 15 {
		t.Fatalf("the stream ended on %s after %d events, want SUCCEEDED after 15:\n%s", last, len(evs), eventList(evs))
	}
	checkSucceeded(t, a, id)
}
