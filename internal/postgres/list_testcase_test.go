package postgres_test

import (
	"slices"
	"testing"
	"time"

	"github.com/shipgraph/shipgraph/internal/postgres"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

func testCaseCursor(tc *shipgraph.TestCase) string { return tc.CursorOf(createdAsc).Encode() }

// sortTestCases puts test cases in their listing order: created_at, id.
func sortTestCases(tcs []*shipgraph.TestCase) []*shipgraph.TestCase {
	return sortedBy(tcs, false,
		func(a, b *shipgraph.TestCase) int { return a.CreatedAt.Compare(b.CreatedAt) },
		func(tc *shipgraph.TestCase) int64 { return tc.ID })
}

func reloadTestCases(t *testing.T, s *postgres.Store, tcs []*shipgraph.TestCase) []*shipgraph.TestCase {
	t.Helper()
	out := try(s.TestCasesByID(t.Context(), testCaseIDs(tcs))).must(t)
	for i, tc := range out {
		if tc == nil {
			t.Fatalf("test case %d is gone", tcs[i].ID)
		}
	}
	return out
}

func onlyStatus(tcs []*shipgraph.TestCase, st shipgraph.TestCaseStatus) []*shipgraph.TestCase {
	var out []*shipgraph.TestCase
	for _, tc := range tcs {
		if tc.Status == st {
			out = append(out, tc)
		}
	}
	return out
}

func TestListTestCases(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	// Features with 7, 3, 1 and no test cases.
	fa, fb, fc, fd := newFeature(t, s), newFeature(t, s), newFeature(t, s), newFeature(t, s)
	var a, b, c []*shipgraph.TestCase
	for i := range 7 {
		a = append(a, createTestCase(t, s, fa.ID, "a"+itoa(i)))
		if i < 3 {
			b = append(b, createTestCase(t, s, fb.ID, "b"+itoa(i)))
		}
	}
	c = append(c, createTestCase(t, s, fc.ID, "c0"))
	for _, tc := range []*shipgraph.TestCase{a[0], a[2], a[5], b[1]} {
		try(s.UpdateTestCase(t.Context(), shipgraph.TestCaseUpdate{ID: tc.ID, Status: ptr(shipgraph.TestPassed)})).must(t)
	}
	// Ties in created_at, so that the id decides, and an order that is not
	// the id order.
	tie := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	execSQL(t, "UPDATE test_cases SET created_at = $2 WHERE id = ANY($1)", testCaseIDs(a[1:5]), tie)
	execSQL(t, "UPDATE test_cases SET created_at = $2 WHERE id = $1", a[6].ID, tie.Add(-time.Minute))
	a, b, c = reloadTestCases(t, s, a), reloadTestCases(t, s, b), reloadTestCases(t, s, c)
	parents := []int64{fa.ID, fb.ID, fc.ID, fd.ID}
	want := [][]int64{testCaseIDs(sortTestCases(a)), testCaseIDs(sortTestCases(b)), testCaseIDs(sortTestCases(c)), {}}

	query := func(parent int64, p shipgraph.PageArgs) shipgraph.TestCaseQuery {
		return shipgraph.TestCaseQuery{FeatureID: parent, Page: p}
	}
	fetch := func(qs []shipgraph.TestCaseQuery) ([]shipgraph.Page[*shipgraph.TestCase], error) {
		return s.ListTestCases(t.Context(), qs)
	}
	for _, size := range []int{1, 2, 3, 7, 10} {
		t.Run("first/after over many features visits each feature's rows once in order (pages of "+itoa(size)+")", func(t *testing.T) {
			t.Parallel()
			got := walkBatch(t, parents, size, false, query, fetch, testCaseCursor)
			for i := range parents {
				requireIDs(t, "feature "+itoa(i), testCaseIDs(got[i]), want[i])
			}
		})
		t.Run("last/before over many features visits each feature's rows once in order (pages of "+itoa(size)+")", func(t *testing.T) {
			t.Parallel()
			got := walkBatch(t, parents, size, true, query, fetch, testCaseCursor)
			for i := range parents {
				requireIDs(t, "feature "+itoa(i), testCaseIDs(got[i]), want[i])
			}
		})
	}

	t.Run("each feature gets its own page in query order", func(t *testing.T) {
		t.Parallel()
		passed := testCaseIDs(sortTestCases(onlyStatus(a, shipgraph.TestPassed)))
		qs := []shipgraph.TestCaseQuery{
			{FeatureID: fc.ID, Page: shipgraph.PageArgs{First: 2}},
			{FeatureID: fa.ID, Page: shipgraph.PageArgs{First: 2}},
			{FeatureID: fa.ID, Status: shipgraph.TestPassed, Page: shipgraph.PageArgs{First: 2}},
			{FeatureID: fb.ID, Page: shipgraph.PageArgs{First: 2}},
			{FeatureID: fd.ID, Page: shipgraph.PageArgs{First: 2}},
			{FeatureID: missingID, Page: shipgraph.PageArgs{First: 2}},
			{FeatureID: fb.ID, Status: shipgraph.TestFailed, Page: shipgraph.PageArgs{First: 2}},
			{FeatureID: fa.ID, Page: shipgraph.PageArgs{Last: 2}},
		}
		pages := try(s.ListTestCases(t.Context(), qs)).must(t)
		if len(pages) != len(qs) {
			t.Fatalf("%d pages for %d queries", len(pages), len(qs))
		}
		expect := []struct {
			ids            []int64
			next, previous bool
		}{
			{want[2], false, false},
			{want[0][:2], true, false},
			{passed[:2], true, false},
			{want[1][:2], true, false},
			{[]int64{}, false, false},
			{[]int64{}, false, false},
			{[]int64{}, false, false},
			{want[0][5:], false, true},
		}
		for i, e := range expect {
			requireIDs(t, "query "+itoa(i), testCaseIDs(pages[i].Items), e.ids)
			requirePageFlags(t, "query "+itoa(i), pages[i], e.next, e.previous)
			for _, tc := range pages[i].Items {
				if tc.FeatureID != qs[i].FeatureID {
					t.Errorf("query %d for feature %d got test case %d of feature %d", i, qs[i].FeatureID, tc.ID, tc.FeatureID)
				}
				if qs[i].Status != "" && tc.Status != qs[i].Status {
					t.Errorf("query %d for status %s got a %s test case", i, qs[i].Status, tc.Status)
				}
			}
		}
	})

	t.Run("one statement per group of queries that share their arguments", func(t *testing.T) {
		t.Parallel()
		ctx := postgres.WithStatementCounter(t.Context())
		qs := []shipgraph.TestCaseQuery{
			{FeatureID: fa.ID, Page: shipgraph.PageArgs{First: 2}},
			{FeatureID: fb.ID, Page: shipgraph.PageArgs{First: 2}},
			{FeatureID: fa.ID, Status: shipgraph.TestPassed, Page: shipgraph.PageArgs{First: 2}},
			{FeatureID: fc.ID, Page: shipgraph.PageArgs{First: 2}},
			{FeatureID: fb.ID, Status: shipgraph.TestPassed, Page: shipgraph.PageArgs{First: 2}},
		}
		try(s.ListTestCases(ctx, qs)).must(t)
		if n := postgres.StatementCount(ctx); n != 2 {
			t.Errorf("%d statements for 2 groups of queries, want 2", n)
		}
	})

	t.Run("the same query twice in one batch gets the same page twice", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct {
			feature int64
			first   int
			want    []int64
			next    bool
			count   int
		}{
			{fa.ID, 3, want[0][:3], true, 7},
			{fb.ID, 3, want[1], false, 3}, // exactly one page
			{fc.ID, 2, want[2], false, 1}, // fewer rows than asked
		} {
			q := shipgraph.TestCaseQuery{FeatureID: c.feature, Page: shipgraph.PageArgs{First: c.first}}
			pages := try(s.ListTestCases(t.Context(), []shipgraph.TestCaseQuery{q, q})).must(t)
			for i, p := range pages {
				requireIDs(t, "copy "+itoa(i)+" of first "+itoa(c.first), testCaseIDs(p.Items), c.want)
				if p.HasNextPage != c.next {
					t.Errorf("copy %d of first %d: hasNextPage %v, want %v", i, c.first, p.HasNextPage, c.next)
				}
			}
			counts := try(s.CountTestCases(t.Context(), []shipgraph.TestCaseQuery{q, q})).must(t)
			if !slices.Equal(counts, []int{c.count, c.count}) {
				t.Errorf("CountTestCases of the same query twice = %v, want [%d %d]", counts, c.count, c.count)
			}
		}
	})

	t.Run("counts match", func(t *testing.T) {
		t.Parallel()
		got := try(s.CountTestCases(t.Context(), []shipgraph.TestCaseQuery{
			{FeatureID: fb.ID}, {FeatureID: fa.ID}, {FeatureID: fd.ID}, {FeatureID: missingID},
			{FeatureID: fa.ID, Status: shipgraph.TestPassed}, {FeatureID: fc.ID},
			{FeatureID: fb.ID, Status: shipgraph.TestPassed}, {FeatureID: fc.ID, Status: shipgraph.TestPassed},
			{FeatureID: fa.ID, Page: shipgraph.PageArgs{First: 1}},
		})).must(t)
		if w := []int{3, 7, 0, 0, 3, 1, 1, 0, 7}; !slices.Equal(got, w) {
			t.Errorf("CountTestCases = %v, want %v", got, w)
		}
	})

	t.Run("invalid cursors are BAD_USER_INPUT on after and before", func(t *testing.T) {
		t.Parallel()
		for _, cursor := range []string{"garbage", a[0].CursorOf(shipgraph.Order{Field: shipgraph.OrderUpdatedAt}).Encode()} {
			_, err := s.ListTestCases(t.Context(), []shipgraph.TestCaseQuery{{FeatureID: fa.ID, Page: shipgraph.PageArgs{First: 2, After: cursor}}})
			requireError(t, err, shipgraph.CodeBadUserInput, "after")
			_, err = s.ListTestCases(t.Context(), []shipgraph.TestCaseQuery{
				{FeatureID: fb.ID, Page: shipgraph.PageArgs{First: 2}},
				{FeatureID: fa.ID, Page: shipgraph.PageArgs{Last: 2, Before: cursor}},
			})
			requireError(t, err, shipgraph.CodeBadUserInput, "before")
		}
	})
}

func TestListTestCasesCursorOfDeletedRow(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	f := newFeature(t, s)
	var tcs []*shipgraph.TestCase
	for i := range 5 {
		tcs = append(tcs, createTestCase(t, s, f.ID, "t"+itoa(i)))
	}
	want := testCaseIDs(sortTestCases(tcs))
	noErr(t, s.DeleteTestCase(t.Context(), want[2]))
	var deleted *shipgraph.TestCase
	for _, tc := range tcs {
		if tc.ID == want[2] {
			deleted = tc
		}
	}
	cursor := testCaseCursor(deleted)
	pages := try(s.ListTestCases(t.Context(), []shipgraph.TestCaseQuery{
		{FeatureID: f.ID, Page: shipgraph.PageArgs{First: 10, After: cursor}},
		{FeatureID: f.ID, Page: shipgraph.PageArgs{Last: 10, Before: cursor}},
	})).must(t)
	requireIDs(t, "after the deleted row", testCaseIDs(pages[0].Items), want[3:])
	requireIDs(t, "before the deleted row", testCaseIDs(pages[1].Items), want[:2])
}
