package postgres_test

import (
	"strings"
	"testing"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

func TestCreateTestCase(t *testing.T) {
	t.Parallel()
	s := newStore(t)

	t.Run("returns trimmed values, NOT_RUN, version 1 and timestamps", func(t *testing.T) {
		t.Parallel()
		f := newFeature(t, s)
		tc, err := s.CreateTestCase(t.Context(), shipgraph.TestCaseCreate{
			FeatureID:      f.ID,
			Title:          "  logs in  ",
			Steps:          "\n1. open\n\t2. click  \n",
			ExpectedResult: "  welcome page ",
		})
		if err != nil {
			t.Fatal(err)
		}
		want := shipgraph.TestCase{
			ID: tc.ID, FeatureID: f.ID, Title: "logs in", Steps: "1. open\n\t2. click", ExpectedResult: "welcome page",
			Status: shipgraph.TestNotRun, Version: 1, CreatedAt: tc.CreatedAt, UpdatedAt: tc.CreatedAt,
		}
		if *tc != want {
			t.Errorf("created %+v, want %+v", tc, want)
		}
		if tc.ID < 1 || tc.CreatedAt.IsZero() {
			t.Errorf("ID, CreatedAt = %d, %v", tc.ID, tc.CreatedAt)
		}
		if got := try(s.TestCasesByID(t.Context(), []int64{tc.ID})).must(t)[0]; got == nil || *got != *tc {
			t.Errorf("TestCasesByID = %+v, want %+v", got, tc)
		}
	})

	t.Run("for a missing feature is BAD_USER_INPUT on featureId", func(t *testing.T) {
		t.Parallel()
		deleted := newFeature(t, s)
		noErr(t, s.DeleteFeature(t.Context(), deleted.ID))
		for _, id := range []int64{missingID, deleted.ID, 0, -1} {
			tc, err := s.CreateTestCase(t.Context(), shipgraph.TestCaseCreate{FeatureID: id, Title: "orphan"})
			requireError(t, err, shipgraph.CodeBadUserInput, "featureId")
			if tc != nil {
				t.Errorf("returned %+v with the error", tc)
			}
		}
		if n := countSQL(t, "SELECT count(*) FROM test_cases WHERE feature_id = ANY($1)", []int64{missingID, deleted.ID, 0, -1}); n != 0 {
			t.Errorf("%d orphan test cases written", n)
		}
	})

	t.Run("with invalid input is BAD_USER_INPUT and writes nothing", func(t *testing.T) {
		t.Parallel()
		f := newFeature(t, s)
		for _, c := range []struct {
			in    shipgraph.TestCaseCreate
			field string
		}{
			{shipgraph.TestCaseCreate{Title: "  "}, "title"},
			{shipgraph.TestCaseCreate{Title: "a"}, "title"},
			{shipgraph.TestCaseCreate{Title: strings.Repeat("t", 256)}, "title"},
			{shipgraph.TestCaseCreate{Title: "tab\tin title"}, "title"},
			{shipgraph.TestCaseCreate{Title: "ok", Steps: strings.Repeat("s", 10001)}, "steps"},
			{shipgraph.TestCaseCreate{Title: "ok", Steps: "bell\a"}, "steps"},
			{shipgraph.TestCaseCreate{Title: "ok", ExpectedResult: strings.Repeat("r", 2001)}, "expectedResult"},
			{shipgraph.TestCaseCreate{Title: "ok", ExpectedResult: "zero\u200bwidth"}, "expectedResult"},
		} {
			c.in.FeatureID = f.ID
			_, err := s.CreateTestCase(t.Context(), c.in)
			requireError(t, err, shipgraph.CodeBadUserInput, c.field)
		}
		if n := countSQL(t, "SELECT count(*) FROM test_cases WHERE feature_id = $1", f.ID); n != 0 {
			t.Errorf("%d test cases written by rejected inputs", n)
		}
	})
}

func TestUpdateTestCase(t *testing.T) {
	t.Parallel()
	s := newStore(t)

	t.Run("changes only the given fields and bumps version and updated_at", func(t *testing.T) {
		t.Parallel()
		f := newFeature(t, s)
		tc := try(s.CreateTestCase(t.Context(), shipgraph.TestCaseCreate{FeatureID: f.ID, Title: "title", Steps: "steps", ExpectedResult: "result"})).must(t)

		u := try(s.UpdateTestCase(t.Context(), shipgraph.TestCaseUpdate{ID: tc.ID, Status: ptr(shipgraph.TestPassed)})).must(t)
		want := *tc
		want.Status, want.Version, want.UpdatedAt = shipgraph.TestPassed, 2, u.UpdatedAt
		if *u != want {
			t.Fatalf("after status update: %+v, want %+v", u, want)
		}
		if !u.UpdatedAt.After(tc.UpdatedAt) {
			t.Errorf("UpdatedAt %v not after %v", u.UpdatedAt, tc.UpdatedAt)
		}

		u2 := try(s.UpdateTestCase(t.Context(), shipgraph.TestCaseUpdate{ID: tc.ID, Title: ptr(" new title "), Steps: ptr(""), ExpectedResult: ptr(" new result")})).must(t)
		want = *u
		want.Title, want.Steps, want.ExpectedResult, want.Version, want.UpdatedAt = "new title", "", "new result", 3, u2.UpdatedAt
		if *u2 != want {
			t.Fatalf("after text update: %+v, want %+v", u2, want)
		}
		if got := try(s.TestCasesByID(t.Context(), []int64{tc.ID})).must(t)[0]; *got != *u2 {
			t.Errorf("stored %+v, want %+v", got, u2)
		}
	})

	t.Run("with the current expectedVersion succeeds", func(t *testing.T) {
		t.Parallel()
		tc := createTestCase(t, s, newFeature(t, s).ID, "versioned")
		u := try(s.UpdateTestCase(t.Context(), shipgraph.TestCaseUpdate{ID: tc.ID, Status: ptr(shipgraph.TestFailed), ExpectedVersion: ptr(1)})).must(t)
		if u.Version != 2 || u.Status != shipgraph.TestFailed {
			t.Errorf("Version, Status = %d, %s", u.Version, u.Status)
		}
	})

	t.Run("with a stale expectedVersion is a CONFLICT and changes nothing", func(t *testing.T) {
		t.Parallel()
		tc := createTestCase(t, s, newFeature(t, s).ID, "versioned")
		cur := try(s.UpdateTestCase(t.Context(), shipgraph.TestCaseUpdate{ID: tc.ID, Status: ptr(shipgraph.TestSkipped)})).must(t)
		_, err := s.UpdateTestCase(t.Context(), shipgraph.TestCaseUpdate{ID: tc.ID, Title: ptr("lost"), ExpectedVersion: ptr(1)})
		requireError(t, err, shipgraph.CodeConflict, "expectedVersion")
		if got := try(s.TestCasesByID(t.Context(), []int64{tc.ID})).must(t)[0]; *got != *cur {
			t.Errorf("row changed: %+v, want %+v", got, cur)
		}
	})

	t.Run("of a missing test case is NOT_FOUND", func(t *testing.T) {
		t.Parallel()
		for _, v := range []*int{nil, ptr(1)} {
			_, err := s.UpdateTestCase(t.Context(), shipgraph.TestCaseUpdate{ID: missingID, Title: ptr("whatever"), ExpectedVersion: v})
			requireError(t, err, shipgraph.CodeNotFound, "")
		}
	})

	t.Run("with invalid input is BAD_USER_INPUT and changes nothing", func(t *testing.T) {
		t.Parallel()
		tc := createTestCase(t, s, newFeature(t, s).ID, "unchanged")
		for _, c := range []struct {
			in    shipgraph.TestCaseUpdate
			field string
		}{
			{shipgraph.TestCaseUpdate{Title: ptr("")}, "title"},
			{shipgraph.TestCaseUpdate{Title: ptr("ok"), Steps: ptr(strings.Repeat("s", 10001))}, "steps"},
			{shipgraph.TestCaseUpdate{Title: ptr("ok"), ExpectedResult: ptr("\x00")}, "expectedResult"},
			{shipgraph.TestCaseUpdate{Title: ptr("ok"), Status: ptr(shipgraph.TestCaseStatus("BROKEN"))}, "status"},
			{shipgraph.TestCaseUpdate{Title: ptr("ok"), ExpectedVersion: ptr(-1)}, "expectedVersion"},
		} {
			c.in.ID = tc.ID
			_, err := s.UpdateTestCase(t.Context(), c.in)
			requireError(t, err, shipgraph.CodeBadUserInput, c.field)
		}
		if got := try(s.TestCasesByID(t.Context(), []int64{tc.ID})).must(t)[0]; *got != *tc {
			t.Errorf("row changed: %+v, want %+v", got, tc)
		}
	})

	t.Run("concurrent updates with the same expectedVersion: one wins", func(t *testing.T) {
		t.Parallel()
		f := newFeature(t, s)
		for round := 0; round < 10; round++ {
			tc := createTestCase(t, s, f.ID, "raced")
			oneWins(t, round, func(i int) error {
				_, err := s.UpdateTestCase(t.Context(), shipgraph.TestCaseUpdate{ID: tc.ID, Title: ptr("writer " + itoa(i)), ExpectedVersion: ptr(1)})
				return err
			})
			if got := try(s.TestCasesByID(t.Context(), []int64{tc.ID})).must(t)[0]; got.Version != 2 {
				t.Fatalf("round %d: version %d, want 2", round, got.Version)
			}
		}
	})
}

func TestDeleteTestCase(t *testing.T) {
	t.Parallel()
	s := newStore(t)

	t.Run("deletes only that test case", func(t *testing.T) {
		t.Parallel()
		f := newFeature(t, s)
		a, b := createTestCase(t, s, f.ID, "a1"), createTestCase(t, s, f.ID, "b1")
		if err := s.DeleteTestCase(t.Context(), a.ID); err != nil {
			t.Fatal(err)
		}
		got := try(s.TestCasesByID(t.Context(), []int64{a.ID, b.ID})).must(t)
		if got[0] != nil || got[1] == nil {
			t.Errorf("after delete: %v, want [nil b]", got)
		}
		if f2 := try(s.FeaturesByID(t.Context(), []int64{f.ID})).must(t)[0]; f2 == nil || *f2 != *f {
			t.Errorf("the feature changed: %+v", f2)
		}
	})

	t.Run("of a missing test case is NOT_FOUND", func(t *testing.T) {
		t.Parallel()
		requireError(t, s.DeleteTestCase(t.Context(), missingID), shipgraph.CodeNotFound, "")
	})

	t.Run("twice is NOT_FOUND the second time", func(t *testing.T) {
		t.Parallel()
		tc := createTestCase(t, s, newFeature(t, s).ID, "once")
		noErr(t, s.DeleteTestCase(t.Context(), tc.ID))
		requireError(t, s.DeleteTestCase(t.Context(), tc.ID), shipgraph.CodeNotFound, "")
	})
}

func TestTestCasesByID(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	f := newFeature(t, s)
	a, b := createTestCase(t, s, f.ID, "a1"), createTestCase(t, s, f.ID, "b1")
	got := try(s.TestCasesByID(t.Context(), []int64{b.ID, missingID, a.ID})).must(t)
	if len(got) != 3 || got[0] == nil || *got[0] != *b || got[1] != nil || got[2] == nil || *got[2] != *a {
		t.Errorf("TestCasesByID([b missing a]) = %v, want [b nil a]", got)
	}
}
