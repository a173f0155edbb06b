package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shipgraph/shipgraph/internal/pgtest"
	"github.com/shipgraph/shipgraph/internal/postgres"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

const helperQueueEnv = "SHIPGRAPH_PIPELINE_CRASH_HELPER_QUEUE"

// TestCrashHelper is not a test: it is the process TestPipelineResumesAfterCrash
// starts and kills, a pipeline whose stages never end on their own.
func TestCrashHelper(t *testing.T) {
	url := os.Getenv(helperEnv)
	if url == "" {
		t.Skip("the helper process of TestPipelineResumesAfterCrash")
	}
	ctx := context.Background()
	db, err := postgres.Open(ctx, postgres.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(db.Pool, postgres.NewStore(db), Config{
		StageDuration: time.Hour, StageTimeout: 2 * time.Hour,
		queue: os.Getenv(helperQueueEnv),
		// Out of leader election, so that the survivor leads (and rescues)
		// as soon as it starts.
		noLeader: true,
	}, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx); err != nil {
		t.Fatal(err)
	}
	fmt.Println("ready")
	time.Sleep(2 * time.Minute) // killed long before
}

// lockedBuffer collects the helper's stderr for the failure message.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestPipelineResumesAfterCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for River to rescue a job (about 10s)")
	}
	t.Parallel()
	ctx := t.Context()
	// A database of its own: River's rescuer runs on the leader of each
	// database, with the leader's RescueAfter, and this test's short one
	// must not rescue the long stages of the other tests.
	db, err := pgtest.Create(ctx, "pipelinecrash", Migrate)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Drop(context.Background()) })
	pool := db.DB.Pool
	queue := token(t)

	doomed := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	doomed.Env = append(os.Environ(), helperEnv+"="+db.URL, helperQueueEnv+"="+queue)
	var stderr lockedBuffer
	doomed.Stderr = &stderr
	stdout, err := doomed.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := doomed.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			doomed.Process.Kill()
			doomed.Wait()
		}
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready" {
				ready <- true
			}
		}
		close(ready)
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("the helper process exited:\n%s", stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the helper process did not start:\n%s", stderr.String())
	}

	s := postgres.NewStore(db.DB)
	// The survivor: not started yet, so that the doomed process takes the
	// job; its store enqueues on the shared queue.
	survivor := newTestPipeline(t, pool, s, Config{StageDuration: 0, StageTimeout: time.Second, RescueAfter: 3 * time.Second, queue: queue})
	d := createDeployment(t, s)
	eventually(t, 10*time.Second, "the doomed process to run the stages", func() bool {
		return len(events(t, pool, d.ID)) >= 8
	})

	if err := doomed.Process.Kill(); err != nil { // SIGKILL: no chance to hand anything back
		t.Fatal(err)
	}
	doomed.Wait()
	killed = true
	if state, attempt := jobState(t, pool, d.ID); state != "running" || attempt != 1 {
		t.Fatalf("after the crash the job is %s at attempt %d, want running at 1", state, attempt)
	}
	// River's rescuer only takes jobs older than RescueAfter, and runs
	// when its leader starts, then every 30s: start the survivor once the
	// job is old enough to be rescued at the first look.
	var wait time.Duration
	if err := pool.QueryRow(ctx, `
		SELECT greatest(0, extract(epoch FROM j.attempted_at + interval '3.5 seconds' - now()))::float8 * interval '1 second'
		FROM river_job j JOIN deployments d ON d.job_id = j.id WHERE d.id = $1`, d.ID).Scan(&wait); err != nil {
		t.Fatal(err)
	}
	time.Sleep(wait)
	start(t, survivor)

	d = waitStatus(t, s, d.ID, shipgraph.DeploymentSucceeded, 60*time.Second)
	evs := events(t, pool, d.ID)
	checkGapless(t, evs)
	resumed := -1
	for i, e := range evs {
		if strings.HasPrefix(e.message, "resumed on ") && strings.HasSuffix(e.message, "(attempt 2)") {
			resumed = i
		}
	}
	if resumed < 0 {
		t.Fatalf("no resume event:%s", dumpEvents(evs))
	}
	// The stages the crash interrupted ran again, from RUNNING.
	for _, st := range concurrentStages {
		again := findEvent(evs[resumed:], st, shipgraph.StageRunning)
		if again < 0 || findEvent(evs[resumed:], st, shipgraph.StageSucceeded) < again {
			t.Errorf("%s did not run again after the resume:%s", st, dumpEvents(evs))
		}
	}
	// River records the job's completion asynchronously.
	eventually(t, 5*time.Second, "the job to complete at attempt 2", func() bool {
		state, attempt := jobState(t, pool, d.ID)
		return state == "completed" && attempt == 2
	})
}
