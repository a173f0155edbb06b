package pipeline

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/shipgraph/shipgraph/internal/pgtest"
)

// testDB is this package's own database, with Shipgraph's and River's
// migrations applied. Tests that run pipelines use a River queue each (see
// newTestPipeline) so that parallel tests never work each other's jobs.
var testDB *pgtest.Database

// helperEnv, when set, makes the test binary the crash test's doomed
// pipeline process (TestCrashHelper) instead of a test run: it needs no
// database of its own.
const helperEnv = "SHIPGRAPH_PIPELINE_CRASH_HELPER_DB"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(m.Run())
	}
	// Migrate logs through the default logger.
	slog.SetDefault(testLogger())
	pgtest.Main(m, &testDB, Migrate)
}

// testLogger discards logs unless PIPELINE_TEST_LOG is set: River keeps
// logging from its goroutines, which must not write to a finished test.
func testLogger() *slog.Logger {
	if os.Getenv("PIPELINE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func token(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "t" + hex.EncodeToString(b)
}

// eventually polls cond every 10ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
