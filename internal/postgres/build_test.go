package postgres_test

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

func TestCreateBuild(t *testing.T) {
	t.Parallel()
	s := newStore(t)

	t.Run("returns normalized values, number 1, QUEUED, version 1 and timestamps", func(t *testing.T) {
		t.Parallel()
		f := newFeature(t, s)
		b, err := s.CreateBuild(t.Context(), shipgraph.BuildCreate{FeatureID: f.ID, CommitSHA: "  ABCDEF0123  ", Branch: " feature/x-1.2_y "})
		if err != nil {
			t.Fatal(err)
		}
		want := shipgraph.Build{
			ID: b.ID, FeatureID: f.ID, Number: 1, CommitSHA: "abcdef0123", Branch: "feature/x-1.2_y",
			Status: shipgraph.BuildQueued, Version: 1, CreatedAt: b.CreatedAt, UpdatedAt: b.CreatedAt,
		}
		if b.StartedAt != nil || b.FinishedAt != nil {
			t.Errorf("StartedAt, FinishedAt = %v, %v; want nil", b.StartedAt, b.FinishedAt)
		}
		b2 := *b
		b2.StartedAt, b2.FinishedAt = nil, nil
		if b2 != want {
			t.Errorf("created %+v, want %+v", b2, want)
		}
		if b.ID < 1 || b.CreatedAt.IsZero() {
			t.Errorf("ID, CreatedAt = %d, %v", b.ID, b.CreatedAt)
		}
		got := try(s.BuildsByID(t.Context(), []int64{b.ID})).must(t)[0]
		if got == nil || got.ID != b.ID || got.Number != 1 || got.CommitSHA != b.CommitSHA || !got.UpdatedAt.Equal(b.UpdatedAt) {
			t.Errorf("BuildsByID = %+v, want %+v", got, b)
		}
	})

	t.Run("numbers builds 1, 2, 3 per feature", func(t *testing.T) {
		t.Parallel()
		f, g := newFeature(t, s), newFeature(t, s)
		var fn, gn []int
		for range 3 {
			fn = append(fn, createBuild(t, s, f.ID, "main").Number)
		}
		gn = append(gn, createBuild(t, s, g.ID, "main").Number)
		fn = append(fn, createBuild(t, s, f.ID, "main").Number)
		if !slices.Equal(fn, []int{1, 2, 3, 4}) || !slices.Equal(gn, []int{1}) {
			t.Errorf("numbers %v and %v, want [1 2 3 4] and [1]", fn, gn)
		}
	})

	t.Run("for a missing feature is BAD_USER_INPUT on featureId", func(t *testing.T) {
		t.Parallel()
		deleted := newFeature(t, s)
		noErr(t, s.DeleteFeature(t.Context(), deleted.ID))
		for _, id := range []int64{missingID, deleted.ID, 0} {
			b, err := s.CreateBuild(t.Context(), shipgraph.BuildCreate{FeatureID: id, CommitSHA: "abcdef0", Branch: "main"})
			requireError(t, err, shipgraph.CodeBadUserInput, "featureId")
			if b != nil {
				t.Errorf("returned %+v with the error", b)
			}
		}
		if n := countSQL(t, "SELECT count(*) FROM builds WHERE feature_id = ANY($1)", []int64{missingID, deleted.ID, 0}); n != 0 {
			t.Errorf("%d orphan builds written", n)
		}
	})

	t.Run("with invalid input is BAD_USER_INPUT, writes nothing and uses no number", func(t *testing.T) {
		t.Parallel()
		f := newFeature(t, s)
		for _, c := range []struct {
			sha, branch, field string
		}{
			{"", "main", "commitSha"},
			{"abc123", "main", "commitSha"},                    // too short
			{strings.Repeat("a", 65), "main", "commitSha"},     // too long
			{"abcdefg", "main", "commitSha"},                   // not hex
			{"abc 1234", "main", "commitSha"},                  // inner space
			{"abcdef0", "", "branch"},                          // blank
			{"abcdef0", "   ", "branch"},                       // blank
			{"abcdef0", "a..b", "branch"},                      // ..
			{"abcdef0", "/main", "branch"},                     // leading /
			{"abcdef0", "main/", "branch"},                     // trailing /
			{"abcdef0", "-main", "branch"},                     // leading -
			{"abcdef0", "main.lock", "branch"},                 // .lock
			{"abcdef0", "has space", "branch"},                 // space
			{"abcdef0", "x'; DROP TABLE builds; --", "branch"}, // quote
			{"abcdef0", strings.Repeat("b", 256), "branch"},    // too long
		} {
			_, err := s.CreateBuild(t.Context(), shipgraph.BuildCreate{FeatureID: f.ID, CommitSHA: c.sha, Branch: c.branch})
			requireError(t, err, shipgraph.CodeBadUserInput, c.field)
		}
		if n := countSQL(t, "SELECT count(*) FROM builds WHERE feature_id = $1", f.ID); n != 0 {
			t.Errorf("%d builds written by rejected inputs", n)
		}
		if b := createBuild(t, s, f.ID, "main"); b.Number != 1 {
			t.Errorf("first valid build got number %d, want 1", b.Number)
		}
	})
}

func TestCreateBuildConcurrentNumbers(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	f, other := newFeature(t, s), newFeature(t, s)
	const n = 50
	start := make(chan struct{})
	var wg sync.WaitGroup
	builds := make([]*shipgraph.Build, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			<-start
			builds[i], errs[i] = s.CreateBuild(t.Context(), shipgraph.BuildCreate{FeatureID: f.ID, CommitSHA: "abcdef0", Branch: "main"})
		})
	}
	// Builds of another feature meanwhile must not take f's numbers.
	for range 5 {
		wg.Go(func() {
			<-start
			if _, err := s.CreateBuild(t.Context(), shipgraph.BuildCreate{FeatureID: other.ID, CommitSHA: "abcdef0", Branch: "main"}); err != nil {
				t.Errorf("CreateBuild(other): %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	var numbers []int
	for i, err := range errs {
		if err != nil {
			t.Fatalf("CreateBuild #%d: %v", i, err)
		}
		numbers = append(numbers, builds[i].Number)
	}
	slices.Sort(numbers)
	want := make([]int, n)
	for i := range want {
		want[i] = i + 1
	}
	if !slices.Equal(numbers, want) {
		t.Fatalf("numbers %v, want exactly 1..%d", numbers, n)
	}
	if got := try(s.CountBuilds(t.Context(), []shipgraph.BuildQuery{{FeatureID: f.ID}, {FeatureID: other.ID}})).must(t); !slices.Equal(got, []int{n, 5}) {
		t.Errorf("CountBuilds = %v, want [%d 5]", got, n)
	}
	if b := createBuild(t, s, f.ID, "main"); b.Number != n+1 {
		t.Errorf("next build got number %d, want %d", b.Number, n+1)
	}
}

func TestBuildsByID(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	f := newFeature(t, s)
	a, b := createBuild(t, s, f.ID, "main"), createBuild(t, s, f.ID, "main")
	got := try(s.BuildsByID(t.Context(), []int64{b.ID, missingID, a.ID})).must(t)
	if len(got) != 3 || got[0] == nil || got[0].ID != b.ID || got[1] != nil || got[2] == nil || got[2].ID != a.ID {
		t.Errorf("BuildsByID([b missing a]) = %v, want [b nil a]", got)
	}
}

var allBuildStatuses = []shipgraph.BuildStatus{
	shipgraph.BuildQueued, shipgraph.BuildRunning, shipgraph.BuildSucceeded, shipgraph.BuildFailed, shipgraph.BuildCancelled,
}

func legalBuildMove(from, to shipgraph.BuildStatus) bool {
	switch from {
	case shipgraph.BuildQueued:
		return to == shipgraph.BuildRunning || to == shipgraph.BuildCancelled
	case shipgraph.BuildRunning:
		return to == shipgraph.BuildSucceeded || to == shipgraph.BuildFailed || to == shipgraph.BuildCancelled
	}
	return false
}

func TestUpdateBuildStatus(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	f := newFeature(t, s)

	// Every pair of statuses: legal moves succeed, the same status is a
	// no-op, everything else is a CONFLICT that changes nothing.
	for _, from := range allBuildStatuses {
		for _, to := range allBuildStatuses {
			switch {
			case from == to:
				t.Run(string(from)+" to itself is a no-op without version bump", func(t *testing.T) {
					t.Parallel()
					b := setBuildStatus(t, s, createBuild(t, s, f.ID, "main"), from)
					got, err := s.UpdateBuildStatus(t.Context(), shipgraph.BuildStatusUpdate{ID: b.ID, Status: to})
					if err != nil {
						t.Fatal(err)
					}
					requireSameBuild(t, got, b)
					requireSameBuild(t, try(s.BuildsByID(t.Context(), []int64{b.ID})).must(t)[0], b)
					// With the current version too.
					got = try(s.UpdateBuildStatus(t.Context(), shipgraph.BuildStatusUpdate{ID: b.ID, Status: to, ExpectedVersion: ptr(b.Version)})).must(t)
					requireSameBuild(t, got, b)
				})
			case legalBuildMove(from, to):
				t.Run(string(from)+" to "+string(to)+" succeeds", func(t *testing.T) {
					t.Parallel()
					b := setBuildStatus(t, s, createBuild(t, s, f.ID, "main"), from)
					got, err := s.UpdateBuildStatus(t.Context(), shipgraph.BuildStatusUpdate{ID: b.ID, Status: to})
					if err != nil {
						t.Fatal(err)
					}
					if got.Status != to || got.Version != b.Version+1 || !got.UpdatedAt.After(b.UpdatedAt) {
						t.Errorf("Status, Version, UpdatedAt = %s, %d, %v; want %s, %d, after %v",
							got.Status, got.Version, got.UpdatedAt, to, b.Version+1, b.UpdatedAt)
					}
					if got.Number != b.Number || got.CommitSHA != b.CommitSHA || got.Branch != b.Branch || !got.CreatedAt.Equal(b.CreatedAt) {
						t.Errorf("other fields changed: %+v, was %+v", got, b)
					}
					switch to {
					case shipgraph.BuildRunning:
						if got.StartedAt == nil || got.FinishedAt != nil {
							t.Errorf("RUNNING: StartedAt, FinishedAt = %v, %v; want set, nil", got.StartedAt, got.FinishedAt)
						} else if !got.StartedAt.Equal(got.UpdatedAt) {
							t.Errorf("StartedAt %v, want the time of the move %v", got.StartedAt, got.UpdatedAt)
						}
					default: // a terminal status
						if got.FinishedAt == nil || !got.FinishedAt.Equal(got.UpdatedAt) {
							t.Errorf("FinishedAt = %v, want the time of the move %v", got.FinishedAt, got.UpdatedAt)
						}
						if from == shipgraph.BuildQueued {
							if got.StartedAt != nil {
								t.Errorf("StartedAt = %v for a build that never ran", got.StartedAt)
							}
						} else if got.StartedAt == nil || !got.StartedAt.Equal(*b.StartedAt) {
							t.Errorf("StartedAt = %v, want kept at %v", got.StartedAt, b.StartedAt)
						} else if got.FinishedAt != nil && got.FinishedAt.Before(*got.StartedAt) {
							t.Errorf("FinishedAt %v before StartedAt %v", got.FinishedAt, got.StartedAt)
						}
					}
					stored := try(s.BuildsByID(t.Context(), []int64{b.ID})).must(t)[0]
					requireSameBuild(t, stored, got)
				})
			default:
				t.Run(string(from)+" to "+string(to)+" is a CONFLICT and changes nothing", func(t *testing.T) {
					t.Parallel()
					b := setBuildStatus(t, s, createBuild(t, s, f.ID, "main"), from)
					got, err := s.UpdateBuildStatus(t.Context(), shipgraph.BuildStatusUpdate{ID: b.ID, Status: to})
					requireError(t, err, shipgraph.CodeConflict, "status")
					// got is not checked: UpdateBuildStatus returns the
					// unchanged row along with the error (unlike the other
					// updates, which return nil).
					_ = got
					requireSameBuild(t, try(s.BuildsByID(t.Context(), []int64{b.ID})).must(t)[0], b)
				})
			}
		}
	}

	t.Run("with the current expectedVersion succeeds", func(t *testing.T) {
		t.Parallel()
		b := createBuild(t, s, f.ID, "main")
		got := try(s.UpdateBuildStatus(t.Context(), shipgraph.BuildStatusUpdate{ID: b.ID, Status: shipgraph.BuildRunning, ExpectedVersion: ptr(1)})).must(t)
		got = try(s.UpdateBuildStatus(t.Context(), shipgraph.BuildStatusUpdate{ID: b.ID, Status: shipgraph.BuildSucceeded, ExpectedVersion: ptr(2)})).must(t)
		if got.Status != shipgraph.BuildSucceeded || got.Version != 3 {
			t.Errorf("Status, Version = %s, %d", got.Status, got.Version)
		}
	})

	t.Run("with a stale expectedVersion is a CONFLICT and changes nothing", func(t *testing.T) {
		t.Parallel()
		b := setBuildStatus(t, s, createBuild(t, s, f.ID, "main"), shipgraph.BuildRunning)
		_, err := s.UpdateBuildStatus(t.Context(), shipgraph.BuildStatusUpdate{ID: b.ID, Status: shipgraph.BuildSucceeded, ExpectedVersion: ptr(1)})
		requireError(t, err, shipgraph.CodeConflict, "expectedVersion")
		requireSameBuild(t, try(s.BuildsByID(t.Context(), []int64{b.ID})).must(t)[0], b)
	})

	t.Run("of a missing build is NOT_FOUND", func(t *testing.T) {
		t.Parallel()
		_, err := s.UpdateBuildStatus(t.Context(), shipgraph.BuildStatusUpdate{ID: missingID, Status: shipgraph.BuildRunning})
		requireError(t, err, shipgraph.CodeNotFound, "")
	})

	t.Run("with invalid input is BAD_USER_INPUT and changes nothing", func(t *testing.T) {
		t.Parallel()
		b := createBuild(t, s, f.ID, "main")
		for _, c := range []struct {
			in    shipgraph.BuildStatusUpdate
			field string
		}{
			{shipgraph.BuildStatusUpdate{Status: ""}, "status"},
			{shipgraph.BuildStatusUpdate{Status: "running"}, "status"},
			{shipgraph.BuildStatusUpdate{Status: "PAUSED"}, "status"},
			{shipgraph.BuildStatusUpdate{Status: shipgraph.BuildRunning, ExpectedVersion: ptr(0)}, "expectedVersion"},
		} {
			c.in.ID = b.ID
			_, err := s.UpdateBuildStatus(t.Context(), c.in)
			requireError(t, err, shipgraph.CodeBadUserInput, c.field)
		}
		requireSameBuild(t, try(s.BuildsByID(t.Context(), []int64{b.ID})).must(t)[0], b)
	})

	t.Run("concurrent moves with the same expectedVersion: one wins", func(t *testing.T) {
		t.Parallel()
		for round := 0; round < 10; round++ {
			b := createBuild(t, s, f.ID, "main")
			targets := []shipgraph.BuildStatus{shipgraph.BuildRunning, shipgraph.BuildCancelled}
			winner := oneWins(t, round, func(i int) error {
				_, err := s.UpdateBuildStatus(t.Context(), shipgraph.BuildStatusUpdate{ID: b.ID, Status: targets[i], ExpectedVersion: ptr(1)})
				return err
			})
			got := try(s.BuildsByID(t.Context(), []int64{b.ID})).must(t)[0]
			if got.Status != targets[winner] || got.Version != 2 {
				t.Fatalf("round %d: stored %s v%d, want %s v2", round, got.Status, got.Version, targets[winner])
			}
		}
	})
}

func requireSameBuild(t *testing.T, got, want *shipgraph.Build) {
	t.Helper()
	if got == nil {
		t.Fatalf("build %d is gone", want.ID)
	}
	if got.ID != want.ID || got.Status != want.Status || got.Version != want.Version ||
		!got.UpdatedAt.Equal(want.UpdatedAt) || !got.CreatedAt.Equal(want.CreatedAt) ||
		!sameTimePtr(got.StartedAt, want.StartedAt) || !sameTimePtr(got.FinishedAt, want.FinishedAt) ||
		got.Number != want.Number || got.CommitSHA != want.CommitSHA || got.Branch != want.Branch {
		t.Fatalf("build is %+v, want unchanged %+v", got, want)
	}
}

func sameTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
