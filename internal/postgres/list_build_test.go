package postgres_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/shipgraph/shipgraph/internal/postgres"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

func buildCursor(o shipgraph.Order) func(*shipgraph.Build) string {
	return func(b *shipgraph.Build) string { return b.CursorOf(o).Encode() }
}

func sortBuilds(bs []*shipgraph.Build, o shipgraph.Order) []*shipgraph.Build {
	return sortedBy(bs, o.Desc, func(a, b *shipgraph.Build) int {
		switch o.Field {
		case shipgraph.OrderNumber:
			return a.Number - b.Number
		case shipgraph.OrderUpdatedAt:
			return a.UpdatedAt.Compare(b.UpdatedAt)
		}
		return a.CreatedAt.Compare(b.CreatedAt)
	}, func(b *shipgraph.Build) int64 { return b.ID })
}

func filterBuilds(bs []*shipgraph.Build, f shipgraph.BuildFilter) []*shipgraph.Build {
	var out []*shipgraph.Build
	for _, b := range bs {
		if (f.Status == "" || b.Status == f.Status) && (f.Branch == "" || b.Branch == f.Branch) {
			out = append(out, b)
		}
	}
	return out
}

func reloadBuilds(t *testing.T, s *postgres.Store, bs []*shipgraph.Build) []*shipgraph.Build {
	t.Helper()
	out := try(s.BuildsByID(t.Context(), buildIDs(bs))).must(t)
	for i, b := range out {
		if b == nil {
			t.Fatalf("build %d is gone", bs[i].ID)
		}
	}
	return out
}

// noPanic turns a panic of fn into a test failure, so that one broken batch
// does not take down every test of the package.
func noPanic(t *testing.T, fn func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("panic: %v", r)
		}
	}()
	fn()
}

func TestListBuilds(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	tok := token(t)
	brA, brB := "rel/"+tok, "dev/"+tok
	fa, fb, fc := newFeature(t, s), newFeature(t, s), newFeature(t, s)
	var a, b []*shipgraph.Build
	statuses := []shipgraph.BuildStatus{
		shipgraph.BuildQueued, shipgraph.BuildRunning, shipgraph.BuildSucceeded, shipgraph.BuildFailed,
		shipgraph.BuildCancelled, shipgraph.BuildSucceeded, shipgraph.BuildRunning,
	}
	for i, st := range statuses {
		br := brA
		if i%2 == 1 {
			br = brB
		}
		a = append(a, setBuildStatus(t, s, createBuild(t, s, fa.ID, br), st))
	}
	for range 3 {
		b = append(b, createBuild(t, s, fb.ID, brA))
	}
	// Timestamps with ties and out of number order.
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	for i, x := range append(slices.Clone(a), b...) {
		execSQL(t, "UPDATE builds SET created_at = $2, updated_at = $3 WHERE id = $1",
			x.ID, base.Add(time.Duration((9-i)/3)*time.Minute), base.Add(time.Duration(i%2)*time.Minute))
	}
	a, b = reloadBuilds(t, s, a), reloadBuilds(t, s, b)
	parents := []int64{fa.ID, fb.ID, fc.ID}
	children := [][]*shipgraph.Build{a, b, nil}

	orders := []shipgraph.Order{
		{Field: shipgraph.OrderNumber}, {Field: shipgraph.OrderNumber, Desc: true},
		{Field: shipgraph.OrderCreatedAt}, {Field: shipgraph.OrderCreatedAt, Desc: true},
		{Field: shipgraph.OrderUpdatedAt}, {Field: shipgraph.OrderUpdatedAt, Desc: true},
	}
	fetch := func(qs []shipgraph.BuildQuery) ([]shipgraph.Page[*shipgraph.Build], error) {
		return s.ListBuilds(t.Context(), qs)
	}
	for _, o := range orders {
		query := func(parent int64, p shipgraph.PageArgs) shipgraph.BuildQuery {
			return shipgraph.BuildQuery{FeatureID: parent, Order: o, Page: p}
		}
		t.Run("first/after and last/before over many features visit each feature's rows once in order ("+orderName(o)+")", func(t *testing.T) {
			t.Parallel()
			for _, size := range []int{1, 2, 3, 7} {
				for _, backward := range []bool{false, true} {
					got := walkBatch(t, parents, size, backward, query, fetch, buildCursor(o))
					for i := range parents {
						requireIDs(t, fmt.Sprintf("feature %d, pages of %d, backward %v", i, size, backward),
							buildIDs(got[i]), buildIDs(sortBuilds(children[i], o)))
					}
				}
			}
		})
	}

	filters := []shipgraph.BuildFilter{
		{},
		{Status: shipgraph.BuildSucceeded},
		{Status: shipgraph.BuildRunning},
		{Status: shipgraph.BuildQueued},
		{Branch: brA},
		{Branch: brB},
		{Branch: brB, Status: shipgraph.BuildRunning},
		{Branch: brA, Status: shipgraph.BuildRunning},
		{Branch: "nope/" + tok},
	}
	for _, f := range filters {
		t.Run(fmt.Sprintf("filter status %q branch %q, per feature, with counts", f.Status, f.Branch), func(t *testing.T) {
			t.Parallel()
			o := shipgraph.Order{Field: shipgraph.OrderNumber}
			query := func(parent int64, p shipgraph.PageArgs) shipgraph.BuildQuery {
				return shipgraph.BuildQuery{FeatureID: parent, Filter: f, Order: o, Page: p}
			}
			got := walkBatch(t, parents, 2, false, query, fetch, buildCursor(o))
			var qs []shipgraph.BuildQuery
			var want []int
			for i, p := range parents {
				w := filterBuilds(children[i], f)
				requireIDs(t, "feature "+itoa(i), buildIDs(got[i]), buildIDs(sortBuilds(w, o)))
				qs = append(qs, shipgraph.BuildQuery{FeatureID: p, Filter: f})
				want = append(want, len(w))
			}
			if counts := try(s.CountBuilds(t.Context(), qs)).must(t); !slices.Equal(counts, want) {
				t.Errorf("CountBuilds = %v, want %v", counts, want)
			}
		})
	}

	t.Run("root listing filtered by branch pages over every feature", func(t *testing.T) {
		t.Parallel()
		for _, f := range []shipgraph.BuildFilter{{Branch: brA}, {Branch: brA, Status: shipgraph.BuildQueued}, {Branch: brB}} {
			want := filterBuilds(append(slices.Clone(a), b...), f)
			for _, o := range orders {
				pager := onePager(fetch, func(p shipgraph.PageArgs) shipgraph.BuildQuery {
					return shipgraph.BuildQuery{Filter: f, Order: o, Page: p}
				})
				wantIDs := buildIDs(sortBuilds(want, o))
				requireIDs(t, "root forward "+orderName(o), buildIDs(walkForward(t, 2, pager, buildCursor(o))), wantIDs)
				requireIDs(t, "root backward "+orderName(o), buildIDs(walkBackward(t, 3, pager, buildCursor(o))), wantIDs)
			}
			if n := try(s.CountBuilds(t.Context(), []shipgraph.BuildQuery{{Filter: f}})).must(t); !slices.Equal(n, []int{len(want)}) {
				t.Errorf("CountBuilds(root %+v) = %v, want [%d]", f, n, len(want))
			}
		}
	})

	t.Run("a batch mixing features, filters and the root listing answers each query", func(t *testing.T) {
		t.Parallel()
		o := shipgraph.Order{Field: shipgraph.OrderNumber, Desc: true}
		qs := []shipgraph.BuildQuery{
			{FeatureID: fb.ID, Order: o, Page: shipgraph.PageArgs{First: 2}},
			{Filter: shipgraph.BuildFilter{Branch: brA}, Order: o, Page: shipgraph.PageArgs{First: 100}},
			{FeatureID: fa.ID, Order: o, Page: shipgraph.PageArgs{First: 2}},
			{FeatureID: fa.ID, Filter: shipgraph.BuildFilter{Status: shipgraph.BuildSucceeded}, Order: o, Page: shipgraph.PageArgs{First: 2}},
			{FeatureID: fc.ID, Order: o, Page: shipgraph.PageArgs{First: 2}},
			{FeatureID: fa.ID, Order: shipgraph.Order{Field: shipgraph.OrderNumber}, Page: shipgraph.PageArgs{Last: 2}},
		}
		pages := try(s.ListBuilds(t.Context(), qs)).must(t)
		want := [][]int64{
			buildIDs(sortBuilds(b, o))[:2],
			buildIDs(sortBuilds(filterBuilds(append(slices.Clone(a), b...), shipgraph.BuildFilter{Branch: brA}), o)),
			buildIDs(sortBuilds(a, o))[:2],
			buildIDs(sortBuilds(filterBuilds(a, shipgraph.BuildFilter{Status: shipgraph.BuildSucceeded}), o)),
			{},
			buildIDs(sortBuilds(a, shipgraph.Order{Field: shipgraph.OrderNumber}))[5:],
		}
		for i := range qs {
			requireIDs(t, "query "+itoa(i), buildIDs(pages[i].Items), want[i])
		}
	})

	t.Run("the same root query twice in one batch gets the same page twice", func(t *testing.T) {
		t.Parallel()
		q := shipgraph.BuildQuery{Filter: shipgraph.BuildFilter{Branch: brB}, Order: shipgraph.Order{Field: shipgraph.OrderNumber}, Page: shipgraph.PageArgs{First: 10}}
		want := buildIDs(sortBuilds(filterBuilds(a, q.Filter), q.Order))
		noPanic(t, func() {
			pages, err := s.ListBuilds(t.Context(), []shipgraph.BuildQuery{q, q})
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range pages {
				requireIDs(t, "copy "+itoa(i), buildIDs(p.Items), want)
			}
		})
		noPanic(t, func() {
			counts, err := s.CountBuilds(t.Context(), []shipgraph.BuildQuery{q, q})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(counts, []int{len(want), len(want)}) {
				t.Errorf("CountBuilds = %v, want [%d %d]", counts, len(want), len(want))
			}
		})
	})

	t.Run("cursor of another ordering is BAD_USER_INPUT", func(t *testing.T) {
		t.Parallel()
		numberCursor := a[0].CursorOf(shipgraph.Order{Field: shipgraph.OrderNumber}).Encode()
		_, err := s.ListBuilds(t.Context(), []shipgraph.BuildQuery{{FeatureID: fa.ID, Order: createdAsc, Page: shipgraph.PageArgs{First: 2, After: numberCursor}}})
		requireError(t, err, shipgraph.CodeBadUserInput, "after")
		_, err = s.ListBuilds(t.Context(), []shipgraph.BuildQuery{{FeatureID: fa.ID, Order: createdAsc, Page: shipgraph.PageArgs{Last: 2, Before: numberCursor}}})
		requireError(t, err, shipgraph.CodeBadUserInput, "before")
		_, err = s.ListBuilds(t.Context(), []shipgraph.BuildQuery{{FeatureID: fa.ID, Order: createdAsc, Page: shipgraph.PageArgs{First: 2, After: "%%%"}}})
		requireError(t, err, shipgraph.CodeBadUserInput, "after")
	})

	t.Run("an unsupported order is BAD_USER_INPUT on orderBy", func(t *testing.T) {
		t.Parallel()
		_, err := s.ListBuilds(t.Context(), []shipgraph.BuildQuery{{FeatureID: fa.ID, Order: shipgraph.Order{Field: shipgraph.OrderName}, Page: shipgraph.PageArgs{First: 2}}})
		requireError(t, err, shipgraph.CodeBadUserInput, "orderBy")
	})
}
