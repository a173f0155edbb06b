package postgres_test

import (
	"strings"
	"testing"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// missingID is an id no row ever gets in a test database.
const missingID int64 = 1 << 60

func TestCreateFeature(t *testing.T) {
	t.Parallel()
	s := newStore(t)

	t.Run("returns trimmed values, version 1 and timestamps", func(t *testing.T) {
		t.Parallel()
		tok := token(t)
		f, err := s.CreateFeature(t.Context(), shipgraph.FeatureCreate{
			Name:             "  \t" + tok + " checkout  \n",
			Description:      "\n  line one\nline two  \t",
			ComplexityPoints: 5,
			Status:           shipgraph.FeatureReady,
		})
		if err != nil {
			t.Fatal(err)
		}
		if f.ID < 1 {
			t.Errorf("ID = %d", f.ID)
		}
		if f.Name != tok+" checkout" {
			t.Errorf("Name = %q, want it trimmed", f.Name)
		}
		if f.Description != "line one\nline two" {
			t.Errorf("Description = %q, want it trimmed", f.Description)
		}
		if f.ComplexityPoints != 5 || f.Status != shipgraph.FeatureReady {
			t.Errorf("ComplexityPoints, Status = %d, %s", f.ComplexityPoints, f.Status)
		}
		if f.Version != 1 {
			t.Errorf("Version = %d, want 1", f.Version)
		}
		if f.CreatedAt.IsZero() || !f.UpdatedAt.Equal(f.CreatedAt) {
			t.Errorf("CreatedAt, UpdatedAt = %v, %v; want set and equal", f.CreatedAt, f.UpdatedAt)
		}
		got := try(s.FeaturesByID(t.Context(), []int64{f.ID})).must(t)[0]
		if got == nil || *got != *f {
			t.Errorf("FeaturesByID = %+v, want the created %+v", got, f)
		}
	})

	t.Run("defaults status to DRAFT and keeps text as sent", func(t *testing.T) {
		t.Parallel()
		name := "<b>" + token(t) + "</b> & 'quotes' \"é\" 🚀"
		f := createFeature(t, s, shipgraph.FeatureCreate{Name: name, ComplexityPoints: 1})
		if f.Status != shipgraph.FeatureDraft {
			t.Errorf("Status = %s, want DRAFT", f.Status)
		}
		if f.Name != name || f.Description != "" {
			t.Errorf("Name, Description = %q, %q; want %q, empty", f.Name, f.Description, name)
		}
	})

	t.Run("accepts the bounds of every field", func(t *testing.T) {
		t.Parallel()
		tok := token(t)
		long := tok + strings.Repeat("é", 255-len(tok))
		for _, in := range []shipgraph.FeatureCreate{
			{Name: long, Description: strings.Repeat("d", 2000), ComplexityPoints: 13},
			{Name: "ab", ComplexityPoints: 1},
		} {
			f, err := s.CreateFeature(t.Context(), in)
			if err != nil {
				t.Fatalf("CreateFeature(%d-char name): %v", len([]rune(in.Name)), err)
			}
			if f.Name != in.Name || f.ComplexityPoints != in.ComplexityPoints {
				t.Errorf("stored %q/%d, want %q/%d", f.Name, f.ComplexityPoints, in.Name, in.ComplexityPoints)
			}
		}
	})
}

func TestCreateFeatureRejectsInvalidInput(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	tok := token(t)
	// Every input carries tok in a field that is valid, so that a row written
	// by mistake would be found.
	cases := []struct {
		name  string
		in    shipgraph.FeatureCreate
		field string
	}{
		{"blank name", shipgraph.FeatureCreate{Name: "   ", Description: tok, ComplexityPoints: 3}, "name"},
		{"one-character name", shipgraph.FeatureCreate{Name: " x ", Description: tok, ComplexityPoints: 3}, "name"},
		{"name over 255 characters", shipgraph.FeatureCreate{Name: tok + strings.Repeat("é", 256-len(tok)), ComplexityPoints: 3}, "name"},
		{"name with a control character", shipgraph.FeatureCreate{Name: tok + "\x1b[31m", ComplexityPoints: 3}, "name"},
		{"name with a newline", shipgraph.FeatureCreate{Name: tok + "\nsecond", ComplexityPoints: 3}, "name"},
		{"name with a bidi override", shipgraph.FeatureCreate{Name: tok + "\u202e", ComplexityPoints: 3}, "name"},
		{"name with a NUL", shipgraph.FeatureCreate{Name: tok + "\x00", ComplexityPoints: 3}, "name"},
		{"name of invalid UTF-8", shipgraph.FeatureCreate{Name: tok + "\xff", ComplexityPoints: 3}, "name"},
		{"description over 2000 characters", shipgraph.FeatureCreate{Name: tok, Description: strings.Repeat("d", 2001), ComplexityPoints: 3}, "description"},
		{"description with a NUL", shipgraph.FeatureCreate{Name: tok, Description: "a\x00b", ComplexityPoints: 3}, "description"},
		{"complexity 0", shipgraph.FeatureCreate{Name: tok, ComplexityPoints: 0}, "complexityPoints"},
		{"complexity 14", shipgraph.FeatureCreate{Name: tok, ComplexityPoints: 14}, "complexityPoints"},
		{"negative complexity", shipgraph.FeatureCreate{Name: tok, ComplexityPoints: -1}, "complexityPoints"},
		{"unknown status", shipgraph.FeatureCreate{Name: tok, ComplexityPoints: 3, Status: "LAUNCHED"}, "status"},
		{"lowercase status", shipgraph.FeatureCreate{Name: tok, ComplexityPoints: 3, Status: "draft"}, "status"},
	}
	written := func() int {
		return countSQL(t, "SELECT count(*) FROM features WHERE strpos(name, $1) > 0 OR strpos(description, $1) > 0", tok)
	}
	// The group returns once all its parallel subtests are done.
	t.Run("is BAD_USER_INPUT on the field", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				f, err := s.CreateFeature(t.Context(), c.in)
				requireError(t, err, shipgraph.CodeBadUserInput, c.field)
				if f != nil {
					t.Errorf("returned %+v with the error", f)
				}
			})
		}
	})
	if n := written(); n != 0 {
		t.Errorf("%d features written by rejected inputs", n)
	}
}

func TestUpdateFeature(t *testing.T) {
	t.Parallel()
	s := newStore(t)

	t.Run("changes only the given fields and bumps version and updated_at", func(t *testing.T) {
		t.Parallel()
		tok := token(t)
		f := createFeature(t, s, shipgraph.FeatureCreate{Name: tok + " before", Description: "desc", ComplexityPoints: 3})

		u := try(s.UpdateFeature(t.Context(), shipgraph.FeatureUpdate{ID: f.ID, Name: ptr("  " + tok + " after  ")})).must(t)
		want := *f
		want.Name = tok + " after"
		want.Version = 2
		want.UpdatedAt = u.UpdatedAt
		if *u != want {
			t.Fatalf("after name update: %+v, want %+v", u, want)
		}
		if !u.UpdatedAt.After(f.UpdatedAt) {
			t.Errorf("UpdatedAt %v not after %v", u.UpdatedAt, f.UpdatedAt)
		}

		u2 := try(s.UpdateFeature(t.Context(), shipgraph.FeatureUpdate{
			ID: f.ID, Description: ptr(" new desc "), ComplexityPoints: ptr(8), Status: ptr(shipgraph.FeatureShipped),
		})).must(t)
		want = *u
		want.Description, want.ComplexityPoints, want.Status = "new desc", 8, shipgraph.FeatureShipped
		want.Version = 3
		want.UpdatedAt = u2.UpdatedAt
		if *u2 != want {
			t.Fatalf("after second update: %+v, want %+v", u2, want)
		}
		if !u2.UpdatedAt.After(u.UpdatedAt) || !u2.CreatedAt.Equal(f.CreatedAt) {
			t.Errorf("timestamps: created %v→%v, updated %v→%v", f.CreatedAt, u2.CreatedAt, u.UpdatedAt, u2.UpdatedAt)
		}
		if got := try(s.FeaturesByID(t.Context(), []int64{f.ID})).must(t)[0]; *got != *u2 {
			t.Errorf("stored %+v, want %+v", got, u2)
		}
	})

	t.Run("can clear the description", func(t *testing.T) {
		t.Parallel()
		f := createFeature(t, s, shipgraph.FeatureCreate{Name: token(t), Description: "something"})
		u := try(s.UpdateFeature(t.Context(), shipgraph.FeatureUpdate{ID: f.ID, Description: ptr("  ")})).must(t)
		if u.Description != "" || u.Name != f.Name {
			t.Errorf("Description, Name = %q, %q", u.Description, u.Name)
		}
	})

	t.Run("with the current expectedVersion succeeds", func(t *testing.T) {
		t.Parallel()
		f := newFeature(t, s)
		u := try(s.UpdateFeature(t.Context(), shipgraph.FeatureUpdate{ID: f.ID, ComplexityPoints: ptr(2), ExpectedVersion: ptr(1)})).must(t)
		u = try(s.UpdateFeature(t.Context(), shipgraph.FeatureUpdate{ID: f.ID, ComplexityPoints: ptr(5), ExpectedVersion: ptr(2)})).must(t)
		if u.Version != 3 || u.ComplexityPoints != 5 {
			t.Errorf("Version, ComplexityPoints = %d, %d; want 3, 5", u.Version, u.ComplexityPoints)
		}
	})

	t.Run("with a stale expectedVersion is a CONFLICT and changes nothing", func(t *testing.T) {
		t.Parallel()
		f := newFeature(t, s)
		cur := try(s.UpdateFeature(t.Context(), shipgraph.FeatureUpdate{ID: f.ID, Name: ptr(f.Name + " v2")})).must(t)
		for _, v := range []int{1, 3, 99} {
			u, err := s.UpdateFeature(t.Context(), shipgraph.FeatureUpdate{ID: f.ID, Name: ptr("overwritten"), ExpectedVersion: ptr(v)})
			requireError(t, err, shipgraph.CodeConflict, "expectedVersion")
			if u != nil {
				t.Errorf("returned %+v with the error", u)
			}
		}
		if got := try(s.FeaturesByID(t.Context(), []int64{f.ID})).must(t)[0]; *got != *cur {
			t.Errorf("row changed: %+v, want %+v", got, cur)
		}
	})

	t.Run("of a missing feature is NOT_FOUND", func(t *testing.T) {
		t.Parallel()
		for _, v := range []*int{nil, ptr(1)} {
			_, err := s.UpdateFeature(t.Context(), shipgraph.FeatureUpdate{ID: missingID, Name: ptr("whatever"), ExpectedVersion: v})
			requireError(t, err, shipgraph.CodeNotFound, "")
		}
	})

	t.Run("of a deleted feature is NOT_FOUND", func(t *testing.T) {
		t.Parallel()
		f := newFeature(t, s)
		noErr(t, s.DeleteFeature(t.Context(), f.ID))
		_, err := s.UpdateFeature(t.Context(), shipgraph.FeatureUpdate{ID: f.ID, Name: ptr("whatever"), ExpectedVersion: ptr(1)})
		requireError(t, err, shipgraph.CodeNotFound, "")
	})

	t.Run("with invalid input is BAD_USER_INPUT and changes nothing", func(t *testing.T) {
		t.Parallel()
		f := newFeature(t, s)
		for _, c := range []struct {
			in    shipgraph.FeatureUpdate
			field string
		}{
			{shipgraph.FeatureUpdate{Name: ptr(" ")}, "name"},
			{shipgraph.FeatureUpdate{Name: ptr("x")}, "name"},
			{shipgraph.FeatureUpdate{Name: ptr("ok name"), Description: ptr(strings.Repeat("d", 2001))}, "description"},
			{shipgraph.FeatureUpdate{Name: ptr("ok name"), ComplexityPoints: ptr(0)}, "complexityPoints"},
			{shipgraph.FeatureUpdate{Name: ptr("ok name"), ComplexityPoints: ptr(14)}, "complexityPoints"},
			{shipgraph.FeatureUpdate{Name: ptr("ok name"), Status: ptr(shipgraph.FeatureStatus("DONE"))}, "status"},
			{shipgraph.FeatureUpdate{Name: ptr("ok name"), ExpectedVersion: ptr(0)}, "expectedVersion"},
		} {
			c.in.ID = f.ID
			_, err := s.UpdateFeature(t.Context(), c.in)
			requireError(t, err, shipgraph.CodeBadUserInput, c.field)
		}
		if got := try(s.FeaturesByID(t.Context(), []int64{f.ID})).must(t)[0]; *got != *f {
			t.Errorf("row changed: %+v, want %+v", got, f)
		}
	})
}

func TestUpdateFeatureConcurrentExpectedVersion(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	// Repeated so that the two updates really overlap in some rounds.
	for round := 0; round < 10; round++ {
		f := newFeature(t, s)
		winner := oneWins(t, round, func(i int) error {
			_, err := s.UpdateFeature(t.Context(), shipgraph.FeatureUpdate{
				ID: f.ID, Name: ptr("writer " + itoa(i)), ExpectedVersion: ptr(1),
			})
			return err
		})
		got := try(s.FeaturesByID(t.Context(), []int64{f.ID})).must(t)[0]
		if got.Version != 2 || got.Name != "writer "+itoa(winner) {
			t.Fatalf("round %d: stored %q v%d, want the winner's %q v2", round, got.Name, got.Version, "writer "+itoa(winner))
		}
	}
}

func TestFeaturesByID(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	a, b := newFeature(t, s), newFeature(t, s)
	deleted := newFeature(t, s)
	noErr(t, s.DeleteFeature(t.Context(), deleted.ID))

	t.Run("returns results in key order with nil for missing ids", func(t *testing.T) {
		t.Parallel()
		got := try(s.FeaturesByID(t.Context(), []int64{b.ID, missingID, a.ID, deleted.ID, b.ID})).must(t)
		if len(got) != 5 {
			t.Fatalf("%d results for 5 ids", len(got))
		}
		if got[0] == nil || *got[0] != *b || got[2] == nil || *got[2] != *a || got[4] == nil || *got[4] != *b {
			t.Errorf("got %v, want [b nil a nil b]", got)
		}
		if got[1] != nil || got[3] != nil {
			t.Errorf("missing ids gave %+v, %+v; want nil", got[1], got[3])
		}
	})

	t.Run("of no ids is empty", func(t *testing.T) {
		t.Parallel()
		if got := try(s.FeaturesByID(t.Context(), []int64{})).must(t); len(got) != 0 {
			t.Errorf("got %v", got)
		}
	})
}

func TestDeleteFeature(t *testing.T) {
	t.Parallel()
	s := newStore(t)

	t.Run("deletes the feature", func(t *testing.T) {
		t.Parallel()
		f, other := newFeature(t, s), newFeature(t, s)
		if err := s.DeleteFeature(t.Context(), f.ID); err != nil {
			t.Fatal(err)
		}
		got := try(s.FeaturesByID(t.Context(), []int64{f.ID, other.ID})).must(t)
		if got[0] != nil || got[1] == nil {
			t.Errorf("FeaturesByID after delete = %v, want [nil other]", got)
		}
	})

	t.Run("of a missing feature is NOT_FOUND", func(t *testing.T) {
		t.Parallel()
		requireError(t, s.DeleteFeature(t.Context(), missingID), shipgraph.CodeNotFound, "")
	})

	t.Run("twice is NOT_FOUND the second time", func(t *testing.T) {
		t.Parallel()
		f := newFeature(t, s)
		noErr(t, s.DeleteFeature(t.Context(), f.ID))
		requireError(t, s.DeleteFeature(t.Context(), f.ID), shipgraph.CodeNotFound, "")
	})

	t.Run("cascades to test cases, builds, deployments and events", func(t *testing.T) {
		t.Parallel()
		f, other := newFeature(t, s), newFeature(t, s)
		tree := func(f *shipgraph.Feature) (tcs, bs, ds, evs []int64) {
			tcs = []int64{createTestCase(t, s, f.ID, "first").ID, createTestCase(t, s, f.ID, "second").ID}
			b1, b2 := createBuild(t, s, f.ID, "main"), createBuild(t, s, f.ID, "main")
			bs = []int64{b1.ID, b2.ID}
			d1 := insertDeployment(t, s, f.ID, b1.ID, "staging", shipgraph.DeploymentSucceeded)
			d2 := insertDeployment(t, s, f.ID, b2.ID, "production", shipgraph.DeploymentFailed)
			d3 := insertDeployment(t, s, f.ID, b2.ID, "production", shipgraph.DeploymentCancelled)
			ds = []int64{d1.ID, d2.ID, d3.ID}
			evs = append(eventIDs(insertEvents(t, s, d1.ID, 3)), eventIDs(insertEvents(t, s, d2.ID, 2))...)
			return
		}
		tcs, bs, ds, evs := tree(f)
		otcs, obs, ods, oevs := tree(other)

		if err := s.DeleteFeature(t.Context(), f.ID); err != nil {
			t.Fatal(err)
		}

		for _, tc := range try(s.TestCasesByID(t.Context(), tcs)).must(t) {
			if tc != nil {
				t.Errorf("test case %d survived", tc.ID)
			}
		}
		for _, b := range try(s.BuildsByID(t.Context(), bs)).must(t) {
			if b != nil {
				t.Errorf("build %d survived", b.ID)
			}
		}
		for _, d := range try(s.DeploymentsByID(t.Context(), ds)).must(t) {
			if d != nil {
				t.Errorf("deployment %d survived", d.ID)
			}
		}
		for _, e := range try(s.EventsByID(t.Context(), evs)).must(t) {
			if e != nil {
				t.Errorf("event %d survived", e.ID)
			}
		}
		for _, tbl := range []string{"test_cases", "builds", "deployments"} {
			if n := countSQL(t, "SELECT count(*) FROM "+tbl+" WHERE feature_id = $1", f.ID); n != 0 {
				t.Errorf("%d rows of %s left", n, tbl)
			}
		}
		if n := countSQL(t, "SELECT count(*) FROM deployment_events WHERE deployment_id = ANY($1)", ds); n != 0 {
			t.Errorf("%d events left", n)
		}

		// The other feature's tree is untouched.
		if got := try(s.FeaturesByID(t.Context(), []int64{other.ID})).must(t)[0]; got == nil {
			t.Error("the other feature was deleted")
		}
		for _, tc := range try(s.TestCasesByID(t.Context(), otcs)).must(t) {
			if tc == nil {
				t.Error("a test case of the other feature was deleted")
			}
		}
		for _, b := range try(s.BuildsByID(t.Context(), obs)).must(t) {
			if b == nil {
				t.Error("a build of the other feature was deleted")
			}
		}
		for _, d := range try(s.DeploymentsByID(t.Context(), ods)).must(t) {
			if d == nil {
				t.Error("a deployment of the other feature was deleted")
			}
		}
		for _, e := range try(s.EventsByID(t.Context(), oevs)).must(t) {
			if e == nil {
				t.Error("an event of the other feature was deleted")
			}
		}
	})

	for _, status := range []shipgraph.DeploymentStatus{shipgraph.DeploymentQueued, shipgraph.DeploymentInProgress} {
		t.Run("is a CONFLICT while a deployment is "+string(status)+" and deletes nothing", func(t *testing.T) {
			t.Parallel()
			f := newFeature(t, s)
			tc := createTestCase(t, s, f.ID, "kept")
			done := createBuild(t, s, f.ID, "main")
			b := createBuild(t, s, f.ID, "main")
			old := insertDeployment(t, s, f.ID, done.ID, "production", shipgraph.DeploymentSucceeded)
			active := insertDeployment(t, s, f.ID, b.ID, "production", status)
			evs := insertEvents(t, s, active.ID, 2)

			requireError(t, s.DeleteFeature(t.Context(), f.ID), shipgraph.CodeConflict, "")

			if got := try(s.FeaturesByID(t.Context(), []int64{f.ID})).must(t)[0]; got == nil || *got != *f {
				t.Errorf("feature after refused delete: %+v, want %+v", got, f)
			}
			if got := try(s.TestCasesByID(t.Context(), []int64{tc.ID})).must(t)[0]; got == nil {
				t.Error("test case deleted")
			}
			for _, got := range try(s.BuildsByID(t.Context(), []int64{done.ID, b.ID})).must(t) {
				if got == nil {
					t.Error("build deleted")
				}
			}
			for _, got := range try(s.DeploymentsByID(t.Context(), []int64{old.ID, active.ID})).must(t) {
				if got == nil {
					t.Error("deployment deleted")
				}
			}
			for _, got := range try(s.EventsByID(t.Context(), eventIDs(evs))).must(t) {
				if got == nil {
					t.Error("event deleted")
				}
			}

			// Once the deployment has finished, the feature can go.
			execSQL(t, "UPDATE deployments SET status = 'SUCCEEDED' WHERE id = $1", active.ID)
			if err := s.DeleteFeature(t.Context(), f.ID); err != nil {
				t.Fatalf("delete after the deployment finished: %v", err)
			}
			if got := try(s.FeaturesByID(t.Context(), []int64{f.ID})).must(t)[0]; got != nil {
				t.Error("feature survived")
			}
		})
	}

	t.Run("is not blocked by another feature's active deployment", func(t *testing.T) {
		t.Parallel()
		f, other := newFeature(t, s), newFeature(t, s)
		insertDeployment(t, s, other.ID, createBuild(t, s, other.ID, "main").ID, "production", shipgraph.DeploymentInProgress)
		if err := s.DeleteFeature(t.Context(), f.ID); err != nil {
			t.Fatal(err)
		}
	})
}
