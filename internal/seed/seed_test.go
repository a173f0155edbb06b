package seed_test

import (
	"context"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shipgraph/shipgraph/internal/pgtest"
	"github.com/shipgraph/shipgraph/internal/postgres"
	"github.com/shipgraph/shipgraph/internal/seed"
	sg "github.com/shipgraph/shipgraph/internal/shipgraph"
)

var testDB *pgtest.Database

func TestMain(m *testing.M) { pgtest.Main(m, &testDB) }

// reset empties the tables: the package shares one database, and every test
// counts what it seeded.
func reset(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	pool := testDB.DB.Pool
	if _, err := pool.Exec(context.Background(),
		"TRUNCATE features, test_cases, builds, deployments, deployment_events"); err != nil {
		tb.Fatal(err)
	}
	return pool
}

func run(tb testing.TB, pool *pgxpool.Pool, opts seed.Options) seed.Result {
	tb.Helper()
	res, err := seed.Run(context.Background(), pool, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

func count(tb testing.TB, pool *pgxpool.Pool, sql string, args ...any) int {
	tb.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
	return n
}

// counts returns the rows of each table, as a Result.
func counts(tb testing.TB, pool *pgxpool.Pool) seed.Result {
	tb.Helper()
	return seed.Result{
		Features:    count(tb, pool, "SELECT count(*) FROM features"),
		TestCases:   count(tb, pool, "SELECT count(*) FROM test_cases"),
		Builds:      count(tb, pool, "SELECT count(*) FROM builds"),
		Deployments: count(tb, pool, "SELECT count(*) FROM deployments"),
		Events:      count(tb, pool, "SELECT count(*) FROM deployment_events"),
	}
}

func TestSeedShapesARealisticHistory(t *testing.T) {
	pool := reset(t)
	const n = 300
	res := run(t, pool, seed.Options{Features: n})
	if res.Features != n || res.Skipped != 0 {
		t.Fatalf("result %+v, want %d features and none skipped", res, n)
	}
	got := counts(t, pool)
	got.Skipped = res.Skipped
	if got != res {
		t.Fatalf("database holds %+v, result says %+v", got, res)
	}
	// The averages the data set promises, with slack for randomness.
	for _, c := range []struct {
		what     string
		rows     int
		min, max float64
	}{
		{"test cases", res.TestCases, 9.5, 10.5},
		{"builds", res.Builds, 4.8, 5.2},
		{"deployments", res.Deployments, 1.85, 2.15},
	} {
		if avg := float64(c.rows) / n; avg < c.min || avg > c.max {
			t.Errorf("%.2f %s per feature, want %.2f–%.2f", avg, c.what, c.min, c.max)
		}
	}
	if avg := float64(res.Events) / float64(res.Deployments); avg < 7 || avg > 11 {
		t.Errorf("%.2f events per deployment, want 7–11", avg)
	}

	checkRows(t, pool)
	checkDeployments(t, pool)
	checkMix(t, pool)

	// The API numbers new builds from last_build_number.
	ctx := context.Background()
	var fid int64
	var last int
	if err := pool.QueryRow(ctx, "SELECT id, last_build_number FROM features ORDER BY id LIMIT 1").Scan(&fid, &last); err != nil {
		t.Fatal(err)
	}
	b, err := postgres.NewStore(testDB.DB).CreateBuild(ctx, sg.BuildCreate{FeatureID: fid, CommitSHA: "abcdef1", Branch: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if b.Number != last+1 {
		t.Errorf("new build got number %d, want %d", b.Number, last+1)
	}
	// And new rows get ids past the seeded ones.
	f, err := postgres.NewStore(testDB.DB).CreateFeature(ctx, sg.FeatureCreate{Name: "After the seed", ComplexityPoints: 3})
	if err != nil {
		t.Fatal(err)
	}
	if max := count(t, pool, "SELECT max(id) FROM features WHERE id <> $1", f.ID); f.ID <= int64(max) {
		t.Errorf("new feature got id %d, not past the seeded %d", f.ID, max)
	}
}

func TestSeedUniformHasTheBenchmarkShape(t *testing.T) {
	pool := reset(t)
	const n = 60
	res := run(t, pool, seed.Options{Features: n, Uniform: true})
	want := seed.Result{Features: n, TestCases: 10 * n, Builds: 5 * n, Deployments: 10 * n, Events: res.Events}
	if res != want {
		t.Fatalf("result %+v, want %+v", res, want)
	}
	// Every feature exactly so, not just on average: the benchmark reads
	// 50 of them and expects 1,300 objects.
	if bad := count(t, pool, `SELECT count(*) FROM features f WHERE
			(SELECT count(*) FROM test_cases WHERE feature_id = f.id) <> 10 OR
			(SELECT count(*) FROM builds WHERE feature_id = f.id AND status = 'SUCCEEDED') <> 5`); bad != 0 {
		t.Errorf("%d features without exactly 10 test cases and 5 succeeded builds", bad)
	}
	if bad := count(t, pool, `SELECT count(*) FROM builds b WHERE
			(SELECT count(*) FROM deployments WHERE build_id = b.id) <> 2`); bad != 0 {
		t.Errorf("%d builds without exactly 2 deployments", bad)
	}
	checkRows(t, pool)
	checkDeployments(t, pool)
}

// checkRows runs the row-level rules as SQL: each query counts violations.
func checkRows(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	for _, c := range []struct{ rule, sql string }{
		{"build numbers are 1..k and last_build_number is k", `
			SELECT count(*) FROM features f
			LEFT JOIN (SELECT feature_id, count(*) c, min(number) lo, max(number) hi FROM builds GROUP BY feature_id) b
				ON b.feature_id = f.id
			WHERE b.lo <> 1 OR b.hi <> b.c OR f.last_build_number <> coalesce(b.hi, 0)`},
		{"QUEUED builds have not started", `
			SELECT count(*) FROM builds WHERE status = 'QUEUED' AND (started_at IS NOT NULL OR finished_at IS NOT NULL)`},
		{"RUNNING builds started and have not finished", `
			SELECT count(*) FROM builds WHERE status = 'RUNNING' AND (started_at IS NULL OR finished_at IS NOT NULL)`},
		{"finished builds started, then finished", `
			SELECT count(*) FROM builds WHERE status IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
				AND NOT (created_at <= started_at AND started_at <= finished_at)`},
		{"commit SHAs are 40 hex digits", `SELECT count(*) FROM builds WHERE commit_sha !~ '^[0-9a-f]{40}$'`},
		{"branches look like git branches", `
			SELECT count(*) FROM builds WHERE branch NOT IN ('main') AND branch !~ '^(feature/[a-z0-9-]+|release/[0-9]+\.[0-9]+)$'`},
		{"children are created after their feature", `
			SELECT (SELECT count(*) FROM test_cases c JOIN features f ON f.id = c.feature_id WHERE c.created_at < f.created_at)
			     + (SELECT count(*) FROM builds b JOIN features f ON f.id = b.feature_id WHERE b.created_at < f.created_at)`},
		{"deployments deploy a succeeded build of their feature after it finished", `
			SELECT count(*) FROM deployments d JOIN builds b ON b.id = d.build_id
			WHERE b.status <> 'SUCCEEDED' OR b.feature_id <> d.feature_id OR d.created_at < b.finished_at`},
		{"features: updated_at is between created_at and now", `
			SELECT count(*) FROM features WHERE updated_at < created_at OR updated_at > now()`},
		{"test cases: updated_at is between created_at and now", `
			SELECT count(*) FROM test_cases WHERE updated_at < created_at OR updated_at > now()`},
		{"builds: updated_at is between created_at and now", `
			SELECT count(*) FROM builds WHERE updated_at < created_at OR updated_at > now()`},
		{"deployments: updated_at is between created_at and now", `
			SELECT count(*) FROM deployments WHERE updated_at < created_at OR updated_at > now()`},
		{"the data spans about 90 days", `
			SELECT count(*) FROM features WHERE created_at < now() - interval '91 days'`},
		{"untouched test cases are at version 1", `
			SELECT count(*) FROM test_cases WHERE (version = 1) <> (updated_at = created_at)`},
		{"at most one active deployment per feature and environment", `
			SELECT count(*) FROM (SELECT 1 FROM deployments WHERE status IN ('QUEUED', 'IN_PROGRESS')
				GROUP BY feature_id, environment HAVING count(*) > 1) x`},
		{"deployments of a feature to an environment never overlapped", `
			SELECT count(*) FROM deployments a JOIN deployments b
				ON a.feature_id = b.feature_id AND a.environment = b.environment AND a.id < b.id
			WHERE tstzrange(a.created_at, a.finished_at) && tstzrange(b.created_at, b.finished_at)`},
		{"environments are the known ones", `
			SELECT count(*) FROM deployments WHERE environment NOT IN ('dev', 'qa', 'staging', 'canary', 'production')`},
	} {
		if n := count(t, pool, c.sql); n != 0 {
			t.Errorf("%s: %d violations", c.rule, n)
		}
	}
}

// checkDeployments replays every deployment's event log and checks that the
// deployment, as the store reads it (stages decoded into the domain type),
// is what the log says.
func checkDeployments(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	rows, _ := pool.Query(ctx, "SELECT id, deployment_id, sequence, stage, stage_status, status, progress, message, occurred_at FROM deployment_events ORDER BY deployment_id, sequence")
	events, err := pgx.CollectRows(rows, pgx.RowToStructByName[sg.DeploymentEvent])
	if err != nil {
		t.Fatal(err)
	}
	byDeployment := map[int64][]sg.DeploymentEvent{}
	var ids []int64
	for _, e := range events {
		if byDeployment[e.DeploymentID] == nil {
			ids = append(ids, e.DeploymentID)
		}
		byDeployment[e.DeploymentID] = append(byDeployment[e.DeploymentID], e)
	}
	if n := count(t, pool, "SELECT count(*) FROM deployments"); n != len(ids) {
		t.Fatalf("%d deployments, %d with events", n, len(ids))
	}
	ds, err := postgres.NewStore(testDB.DB).DeploymentsByID(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for _, d := range ds {
		if msg := replay(d, byDeployment[d.ID]); msg != "" {
			if bad++; bad <= 5 {
				t.Errorf("deployment %d: %s", d.ID, msg)
			}
		}
	}
	if bad > 5 {
		t.Errorf("... %d deployments wrong in all", bad)
	}
}

// replay checks one deployment against its log and says what is wrong.
func replay(d *sg.Deployment, evs []sg.DeploymentEvent) string {
	type stage struct {
		status            sg.StageStatus
		started, finished *time.Time
		err               *string
	}
	var stages [4]stage
	index := map[sg.StageName]int{}
	for i, s := range sg.Stages {
		index[s] = i
		stages[i].status = sg.StagePending
	}
	var started *time.Time
	for i, e := range evs {
		last := i == len(evs)-1
		switch {
		case e.Sequence != i+1:
			return "sequence has a gap"
		case i == 0 && (e.Status != sg.DeploymentQueued || e.Progress != 0 || e.Stage != nil):
			return "first event is not QUEUED at 0%"
		case i > 0 && !e.OccurredAt.After(evs[i-1].OccurredAt):
			return "occurred_at does not increase"
		case i > 0 && e.Progress < evs[i-1].Progress, e.Progress > 100:
			return "progress goes back or past 100"
		case (e.Stage == nil) != (e.StageStatus == nil):
			return "stage without stage status or the reverse"
		case last && (e.Stage != nil || e.Status.Active()):
			return "last event is not a terminal deployment event"
		case !last && i > 0 && (e.Stage == nil || e.Status != sg.DeploymentInProgress):
			return "event between first and last is not a stage event of a running deployment"
		}
		if e.Stage == nil {
			continue
		}
		s := &stages[index[*e.Stage]]
		switch *e.StageStatus {
		case sg.StageRunning:
			if s.status != sg.StagePending {
				return "stage started twice"
			}
			if *e.Stage == sg.StageExecute {
				for _, o := range stages[:3] {
					if o.status != sg.StageSucceeded {
						return "EXECUTE started before the other stages succeeded"
					}
				}
			}
			s.started = &e.OccurredAt
			if started == nil {
				started = &e.OccurredAt
			}
		case sg.StageSucceeded, sg.StageFailed, sg.StageCancelled:
			if s.status != sg.StageRunning {
				return "stage finished without running"
			}
			s.finished = &e.OccurredAt
			if *e.StageStatus == sg.StageFailed {
				s.err = d.Error
			}
		default:
			return "unexpected stage status " + string(*e.StageStatus)
		}
		s.status = *e.StageStatus
	}
	first, last := evs[0], evs[len(evs)-1]
	sameTime := func(a, b *time.Time) bool { return (a == nil) == (b == nil) && (a == nil || a.Equal(*b)) }
	switch {
	case d.Status != last.Status || d.Progress != last.Progress:
		return "row status/progress disagree with the last event"
	case d.Status == sg.DeploymentSucceeded && d.Progress != 100:
		return "succeeded below 100%"
	case (d.Status == sg.DeploymentFailed) != (d.Error != nil):
		return "error set iff failed does not hold"
	case d.Error != nil && !strings.HasSuffix(last.Message, *d.Error):
		return "final message does not carry the error"
	case !d.CreatedAt.Equal(first.OccurredAt) || !sameTime(d.FinishedAt, &last.OccurredAt) || !d.UpdatedAt.Equal(last.OccurredAt):
		return "created/finished/updated_at disagree with the log"
	case !sameTime(d.StartedAt, started):
		return "started_at is not the first stage start"
	case d.Version != len(evs):
		return "version is not the number of changes"
	}
	ds, err := d.Stages()
	if err != nil || len(ds) != 4 {
		return "not four stages"
	}
	for i, s := range ds {
		w := stages[i]
		if s.Name != sg.Stages[i] || s.Status != w.status || !sameTime(s.StartedAt, w.started) ||
			!sameTime(s.FinishedAt, w.finished) || (s.Error == nil) != (w.err == nil) ||
			(s.Error != nil && *s.Error != *w.err) {
			return "stages column disagrees with the log at " + string(sg.Stages[i])
		}
		if s.Status == sg.StageRunning {
			return "a finished deployment has a running stage"
		}
	}
	return ""
}

// checkMix checks that every status and size shows up, mostly in the
// expected proportions.
func checkMix(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	for _, c := range []struct {
		table, col string
		want       []string
	}{
		{"features", "status", []string{"DRAFT", "IN_PROGRESS", "READY", "SHIPPED", "ARCHIVED"}},
		{"features", "complexity_points::text", []string{"1", "2", "3", "5", "8", "13"}},
		{"test_cases", "status", []string{"PASSED", "FAILED", "SKIPPED", "NOT_RUN"}},
		{"builds", "status", []string{"SUCCEEDED", "FAILED", "CANCELLED", "RUNNING", "QUEUED"}},
		{"deployments", "status", []string{"SUCCEEDED", "FAILED", "CANCELLED"}},
		{"deployments", "environment", []string{"dev", "qa", "staging", "canary", "production"}},
	} {
		rows, _ := pool.Query(context.Background(), "SELECT "+c.col+", count(*) FROM "+c.table+" GROUP BY 1 ORDER BY 2 DESC")
		type kv struct {
			V string
			N int
		}
		got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[kv])
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(c.want) {
			t.Errorf("%s.%s: got %v, want all of %v", c.table, c.col, got, c.want)
			continue
		}
		// The most common one is the one expected to dominate.
		if c.col == "status" && c.table != "features" && got[0].V != c.want[0] {
			t.Errorf("%s.%s: %v is not mostly %s", c.table, c.col, got, c.want[0])
		}
	}
	// Names are built from word lists, so they vary.
	if n := count(t, pool, "SELECT count(DISTINCT name) FROM features"); n < 250 {
		t.Errorf("only %d distinct names among 300 features", n)
	}
}

func TestRunTwiceDoesNotDuplicate(t *testing.T) {
	pool := reset(t)
	first := run(t, pool, seed.Options{Features: 20})
	before := counts(t, pool)
	second := run(t, pool, seed.Options{Features: 20})
	if second != (seed.Result{Skipped: 20}) {
		t.Errorf("second run: %+v, want only 20 skipped", second)
	}
	if after := counts(t, pool); after != before {
		t.Errorf("second run changed the tables: %+v, then %+v", before, after)
	}
	if first.Features != 20 {
		t.Errorf("first run: %+v", first)
	}
}

func TestTopUp(t *testing.T) {
	pool := reset(t)
	run(t, pool, seed.Options{Features: 5})
	res := run(t, pool, seed.Options{Features: 8})
	if res.Features != 3 || res.Skipped != 5 {
		t.Errorf("top-up from 5 to 8: %+v, want 3 added and 5 skipped", res)
	}
	if n := count(t, pool, "SELECT count(*) FROM features"); n != 8 {
		t.Errorf("%d features, want 8", n)
	}
	// The default seed mixes in the existing count: the top-up does not
	// repeat the first run's features.
	if n := count(t, pool, "SELECT count(*) FROM (SELECT name, description FROM features GROUP BY 1, 2 HAVING count(*) > 1) x"); n != 0 {
		t.Errorf("%d features repeated by the top-up", n)
	}
	// Asking for fewer than exist inserts nothing.
	if res := run(t, pool, seed.Options{Features: 3}); res != (seed.Result{Skipped: 3}) {
		t.Errorf("asking for 3 of 8: %+v", res)
	}
	if res := run(t, pool, seed.Options{}); res != (seed.Result{}) {
		t.Errorf("asking for none: %+v", res)
	}
	checkRows(t, pool)
	checkDeployments(t, pool)
}

// TestConcurrentRunsTopUpOnce starts several seeds at once: the advisory
// lock must make all but one find the work done.
func TestConcurrentRunsTopUpOnce(t *testing.T) {
	pool := reset(t)
	var wg sync.WaitGroup
	results := make([]seed.Result, 4)
	errs := make([]error, 4)
	for i := range results {
		wg.Go(func() {
			results[i], errs[i] = seed.Run(context.Background(), pool, seed.Options{Features: 15, Rand: rand.New(rand.NewPCG(uint64(i), 0))})
		})
	}
	wg.Wait()
	added := 0
	for i, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
		added += results[i].Features
	}
	if n := count(t, pool, "SELECT count(*) FROM features"); n != 15 || added != 15 {
		t.Errorf("%d features, %d reported added; want 15", n, added)
	}
}

func TestSameRandSameData(t *testing.T) {
	names := func() string {
		pool := reset(t)
		run(t, pool, seed.Options{Features: 10, Rand: rand.New(rand.NewPCG(7, 7))})
		var s string
		if err := pool.QueryRow(context.Background(),
			"SELECT string_agg(name || description || complexity_points, '|' ORDER BY id) FROM features").Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if a, b := names(), names(); a != b {
		t.Error("the same Rand seed gave different features")
	}
}

func TestFailureLeavesNothing(t *testing.T) {
	pool := reset(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := seed.Run(ctx, pool, seed.Options{Features: 10}); err == nil {
		t.Fatal("no error with a cancelled context")
	}
	if _, err := seed.Run(context.Background(), pool, seed.Options{Features: -1}); err == nil {
		t.Fatal("no error for a negative count")
	}
	if n := count(t, pool, "SELECT count(*) FROM features"); n != 0 {
		t.Errorf("%d features after failed runs", n)
	}
}

// TestSeed10K measures the full-size demo load. It is slow-ish, so it only
// runs with SEED_10K=1: go test -run Seed10K -v ./internal/seed/
func TestSeed10K(t *testing.T) {
	if os.Getenv("SEED_10K") == "" {
		t.Skip("set SEED_10K=1 to seed 10,000 features")
	}
	pool := reset(t)
	start := time.Now()
	res := run(t, pool, seed.Options{Features: 10_000})
	elapsed := time.Since(start)
	t.Logf("seeded %+v in %v", res, elapsed)
	checkRows(t, pool)
	checkDeployments(t, pool)
}

func BenchmarkSeed1000(b *testing.B) {
	for range b.N {
		b.StopTimer()
		pool := reset(b)
		b.StartTimer()
		run(b, pool, seed.Options{Features: 1000})
	}
}
