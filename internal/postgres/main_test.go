package postgres_test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/shipgraph/shipgraph/internal/pgtest"
	"github.com/shipgraph/shipgraph/internal/postgres"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// testDB is this package's own fresh, migrated database. Every test runs in
// parallel with the others, so each one creates the features it works on and
// only ever looks at those (by id, by parent, or through a filter on a token
// unique to the test).
var testDB *pgtest.Database

func TestMain(m *testing.M) { pgtest.Main(m, &testDB) }

func newStore(t *testing.T) *postgres.Store {
	t.Helper()
	return postgres.NewStore(testDB.DB)
}

func ptr[T any](v T) *T { return &v }

// token returns a string unique to the caller: lowercase hex, so that it is
// a valid search text, branch name and environment slug part, and sorts the
// same under any collation.
func token(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "tk" + hex.EncodeToString(b)
}

// requireError checks that err is a *shipgraph.Error with the given code and
// field ("" for no field).
func requireError(t *testing.T, err error, code shipgraph.Code, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s (field %q)", code, field)
	}
	if got := shipgraph.ErrorCode(err); got != code {
		t.Fatalf("ErrorCode = %s, want %s; error: %v", got, code, err)
	}
	var se *shipgraph.Error
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not a *shipgraph.Error", err)
	}
	if se.Field != field {
		t.Fatalf("Field = %q, want %q; error: %v", se.Field, field, err)
	}
	if se.Message == "" {
		t.Fatalf("error %v has no client message", err)
	}
}

// result carries a (value, error) pair so that a call can be checked inline:
// try(s.FeaturesByID(ctx, ids)).must(t).
type result[T any] struct {
	v   T
	err error
}

func try[T any](v T, err error) result[T] { return result[T]{v, err} }

func (r result[T]) must(t *testing.T) T {
	t.Helper()
	if r.err != nil {
		t.Fatalf("unexpected error: %v", r.err)
	}
	return r.v
}

func noErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// oneWins runs write(0) and write(1) at once, released together so that they
// really overlap, both expecting the row's version 1. Exactly one must win
// and the other fail as a CONFLICT on expectedVersion; it returns the
// winner's index.
func oneWins(t *testing.T, round int, write func(i int) error) int {
	t.Helper()
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			<-start
			errs[i] = write(i)
		})
	}
	close(start)
	wg.Wait()
	winner, ok := -1, 0
	for i, err := range errs {
		if err == nil {
			winner = i
			ok++
			continue
		}
		requireError(t, err, shipgraph.CodeConflict, "expectedVersion")
	}
	if ok != 1 {
		t.Fatalf("round %d: %d writes succeeded, want exactly 1 (errors %v)", round, ok, errs)
	}
	return winner
}

// --- fixtures ---------------------------------------------------------------

func createFeature(t *testing.T, s *postgres.Store, in shipgraph.FeatureCreate) *shipgraph.Feature {
	t.Helper()
	if in.ComplexityPoints == 0 {
		in.ComplexityPoints = 3
	}
	f, err := s.CreateFeature(t.Context(), in)
	if err != nil {
		t.Fatalf("CreateFeature(%q): %v", in.Name, err)
	}
	return f
}

func newFeature(t *testing.T, s *postgres.Store) *shipgraph.Feature {
	t.Helper()
	return createFeature(t, s, shipgraph.FeatureCreate{Name: "feature " + token(t)})
}

func createTestCase(t *testing.T, s *postgres.Store, featureID int64, title string) *shipgraph.TestCase {
	t.Helper()
	tc, err := s.CreateTestCase(t.Context(), shipgraph.TestCaseCreate{FeatureID: featureID, Title: title})
	if err != nil {
		t.Fatalf("CreateTestCase(%d, %q): %v", featureID, title, err)
	}
	return tc
}

func createBuild(t *testing.T, s *postgres.Store, featureID int64, branch string) *shipgraph.Build {
	t.Helper()
	b, err := s.CreateBuild(t.Context(), shipgraph.BuildCreate{FeatureID: featureID, CommitSHA: "0123abc", Branch: branch})
	if err != nil {
		t.Fatalf("CreateBuild(%d): %v", featureID, err)
	}
	return b
}

// setBuildStatus walks a new build along legal transitions to status.
func setBuildStatus(t *testing.T, s *postgres.Store, b *shipgraph.Build, status shipgraph.BuildStatus) *shipgraph.Build {
	t.Helper()
	var path []shipgraph.BuildStatus
	switch status {
	case shipgraph.BuildQueued:
	case shipgraph.BuildRunning:
		path = []shipgraph.BuildStatus{shipgraph.BuildRunning}
	case shipgraph.BuildCancelled:
		path = []shipgraph.BuildStatus{shipgraph.BuildCancelled}
	default:
		path = []shipgraph.BuildStatus{shipgraph.BuildRunning, status}
	}
	for _, st := range path {
		var err error
		b, err = s.UpdateBuildStatus(t.Context(), shipgraph.BuildStatusUpdate{ID: b.ID, Status: st})
		if err != nil {
			t.Fatalf("UpdateBuildStatus(%d, %s): %v", b.ID, st, err)
		}
	}
	return b
}

// insertDeployment writes a deployment row directly: the store has no
// method that creates one.
func insertDeployment(t *testing.T, s *postgres.Store, featureID, buildID int64, env string, status shipgraph.DeploymentStatus) *shipgraph.Deployment {
	t.Helper()
	var id int64
	err := testDB.DB.Pool.QueryRow(t.Context(),
		"INSERT INTO deployments (build_id, feature_id, environment, status) VALUES ($1, $2, $3, $4) RETURNING id",
		buildID, featureID, env, string(status)).Scan(&id)
	if err != nil {
		t.Fatalf("insert deployment: %v", err)
	}
	ds := try(s.DeploymentsByID(t.Context(), []int64{id})).must(t)
	if ds[0] == nil {
		t.Fatalf("DeploymentsByID(%d) = nil after insert", id)
	}
	return ds[0]
}

// insertEvents appends n events (sequence 1..n) to a deployment directly.
func insertEvents(t *testing.T, s *postgres.Store, deploymentID int64, n int) []*shipgraph.DeploymentEvent {
	t.Helper()
	seqs := make([]int, n)
	for i := range seqs {
		seqs[i] = i + 1
	}
	return insertEventSeqs(t, s, deploymentID, seqs...)
}

// insertEventSeqs writes events with the given sequence numbers, in that
// order, directly.
func insertEventSeqs(t *testing.T, s *postgres.Store, deploymentID int64, seqs ...int) []*shipgraph.DeploymentEvent {
	t.Helper()
	var ids []int64
	for _, seq := range seqs {
		var id int64
		err := testDB.DB.Pool.QueryRow(t.Context(),
			"INSERT INTO deployment_events (deployment_id, sequence, status, progress, message) VALUES ($1, $2, 'IN_PROGRESS', $3, $4) RETURNING id",
			deploymentID, seq, min(seq, 100), "event "+itoa(seq)).Scan(&id)
		if err != nil {
			t.Fatalf("insert event: %v", err)
		}
		ids = append(ids, id)
	}
	evs := try(s.EventsByID(t.Context(), ids)).must(t)
	for i, e := range evs {
		if e == nil {
			t.Fatalf("EventsByID(%d) = nil after insert", ids[i])
		}
	}
	return evs
}

func itoa(n int) string { return strconv.Itoa(n) }

// execSQL runs a statement directly, bypassing the store.
func execSQL(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := testDB.DB.Pool.Exec(t.Context(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// countSQL runs a SELECT count(*) directly, bypassing the store.
func countSQL(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := testDB.DB.Pool.QueryRow(t.Context(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// --- comparisons ------------------------------------------------------------

func idsOf[T any](items []T, id func(T) int64) []int64 {
	out := make([]int64, len(items))
	for i, it := range items {
		out[i] = id(it)
	}
	return out
}

func featureIDs(fs []*shipgraph.Feature) []int64 {
	return idsOf(fs, func(f *shipgraph.Feature) int64 { return f.ID })
}

func testCaseIDs(ts []*shipgraph.TestCase) []int64 {
	return idsOf(ts, func(tc *shipgraph.TestCase) int64 { return tc.ID })
}

func buildIDs(bs []*shipgraph.Build) []int64 {
	return idsOf(bs, func(b *shipgraph.Build) int64 { return b.ID })
}

func deploymentIDs(ds []*shipgraph.Deployment) []int64 {
	return idsOf(ds, func(d *shipgraph.Deployment) int64 { return d.ID })
}

func eventIDs(es []*shipgraph.DeploymentEvent) []int64 {
	return idsOf(es, func(e *shipgraph.DeploymentEvent) int64 { return e.ID })
}

// requirePageFlags checks a page's hasNextPage and hasPreviousPage; what,
// when not empty, names the page in the message.
func requirePageFlags[T any](t *testing.T, what string, page shipgraph.Page[T], next, prev bool) {
	t.Helper()
	if page.HasNextPage == next && page.HasPreviousPage == prev {
		return
	}
	if what != "" {
		what += ": "
	}
	t.Errorf("%shasNext %v, hasPrev %v; want %v, %v", what, page.HasNextPage, page.HasPreviousPage, next, prev)
}

func requireIDs(t *testing.T, what string, got, want []int64) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got ids %v, want %v", what, got, want)
	}
}

// sortedBy returns items sorted by key then id, reversed when desc: the
// total order every listing promises.
func sortedBy[T any](items []T, desc bool, cmpKey func(a, b T) int, id func(T) int64) []T {
	out := slices.Clone(items)
	slices.SortFunc(out, func(a, b T) int {
		c := cmpKey(a, b)
		if c == 0 {
			c = cmpInt64(id(a), id(b))
		}
		if desc {
			c = -c
		}
		return c
	})
	return out
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// --- pagination walkers -----------------------------------------------------

type fetchPage[T any] func(p shipgraph.PageArgs) (shipgraph.Page[T], error)

const maxPages = 1000

// walkForward follows first/after from the start to the end and checks
// pageInfo on the way.
func walkForward[T any](t *testing.T, size int, fetch fetchPage[T], cursor func(T) string) []T {
	t.Helper()
	var out []T
	after := ""
	for i := 0; i < maxPages; i++ {
		page, err := fetch(shipgraph.PageArgs{First: size, After: after})
		if err != nil {
			t.Fatalf("page %d (first %d after %q): %v", i, size, after, err)
		}
		checkPage(t, i, size, after, page, false)
		out = append(out, page.Items...)
		if !page.HasNextPage {
			return out
		}
		after = cursor(page.Items[len(page.Items)-1])
	}
	t.Fatalf("forward pagination did not end after %d pages", maxPages)
	return nil
}

// checkPage checks the pageInfo of page i of a walk: forward, asked for with
// first size after cursor; backward, with last size before cursor. The two
// directions mirror each other, so one set of checks serves both with the
// names swapped.
func checkPage[T any](t *testing.T, i, size int, cursor string, page shipgraph.Page[T], backward bool) {
	t.Helper()
	ask, arg := "first", "after"
	// onward: more pages in the walk's direction; behind: pages it came from.
	onward, onName, behind, beName := page.HasNextPage, "hasNextPage", page.HasPreviousPage, "hasPreviousPage"
	if backward {
		ask, arg = "last", "before"
		onward, onName, behind, beName = behind, beName, onward, onName
	}
	if page.Items == nil {
		t.Fatalf("page %d: Items is nil, want an empty slice at least", i)
	}
	if len(page.Items) > size {
		t.Fatalf("page %d: %d items, asked for %s %d", i, len(page.Items), ask, size)
	}
	if onward && len(page.Items) != size {
		t.Fatalf("page %d: %s with %d items, want a full page of %d", i, onName, len(page.Items), size)
	}
	if i > 0 && len(page.Items) == 0 {
		t.Fatalf("page %d: empty page after a page that claimed %s", i, onName)
	}
	if behind != (cursor != "") {
		t.Fatalf("page %d: %s = %v with %s %q", i, beName, behind, arg, cursor)
	}
}

// walkBackward follows last/before from the end to the start and returns
// the items in listing order.
func walkBackward[T any](t *testing.T, size int, fetch fetchPage[T], cursor func(T) string) []T {
	t.Helper()
	var out []T
	before := ""
	for i := 0; i < maxPages; i++ {
		page, err := fetch(shipgraph.PageArgs{Last: size, Before: before})
		if err != nil {
			t.Fatalf("page %d (last %d before %q): %v", i, size, before, err)
		}
		checkPage(t, i, size, before, page, true)
		out = append(slices.Clone(page.Items), out...)
		if !page.HasPreviousPage {
			return out
		}
		before = cursor(page.Items[0])
	}
	t.Fatalf("backward pagination did not end after %d pages", maxPages)
	return nil
}

// onePager pages through a single query of a batch listing, the query for
// each page made by query, so that walkForward and walkBackward can drive it.
func onePager[Q any, T any](fetch func(qs []Q) ([]shipgraph.Page[T], error), query func(p shipgraph.PageArgs) Q) fetchPage[T] {
	return func(p shipgraph.PageArgs) (shipgraph.Page[T], error) {
		pages, err := fetch([]Q{query(p)})
		if err != nil {
			return shipgraph.Page[T]{}, err
		}
		return pages[0], nil
	}
}

// walkBatch pages through the children of many parents at once: every round
// is one batch call with one query per parent that still has pages, each
// with its own cursor. It returns each parent's items in listing order.
func walkBatch[Q any, T any](t *testing.T, parents []int64, size int, backward bool,
	query func(parent int64, p shipgraph.PageArgs) Q,
	fetch func(qs []Q) ([]shipgraph.Page[T], error),
	cursor func(T) string,
) [][]T {
	t.Helper()
	out := make([][]T, len(parents))
	cursors := make([]string, len(parents))
	rounds := make([]int, len(parents))
	done := make([]bool, len(parents))
	for round := 0; round < maxPages; round++ {
		var open []int
		var qs []Q
		for i, p := range parents {
			if done[i] {
				continue
			}
			open = append(open, i)
			args := shipgraph.PageArgs{First: size, After: cursors[i]}
			if backward {
				args = shipgraph.PageArgs{Last: size, Before: cursors[i]}
			}
			qs = append(qs, query(p, args))
		}
		if len(open) == 0 {
			return out
		}
		pages, err := fetch(qs)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if len(pages) != len(qs) {
			t.Fatalf("round %d: %d pages for %d queries", round, len(pages), len(qs))
		}
		for j, i := range open {
			page := pages[j]
			checkPage(t, rounds[i], size, cursors[i], page, backward)
			if backward {
				out[i] = append(slices.Clone(page.Items), out[i]...)
				if !page.HasPreviousPage {
					done[i] = true
				} else {
					cursors[i] = cursor(page.Items[0])
				}
			} else {
				out[i] = append(out[i], page.Items...)
				if !page.HasNextPage {
					done[i] = true
				} else {
					cursors[i] = cursor(page.Items[len(page.Items)-1])
				}
			}
			rounds[i]++
		}
	}
	t.Fatalf("batched pagination did not end after %d rounds", maxPages)
	return nil
}
