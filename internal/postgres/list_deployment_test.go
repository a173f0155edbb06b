package postgres_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/shipgraph/shipgraph/internal/postgres"
	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

func deploymentCursor(o shipgraph.Order) func(*shipgraph.Deployment) string {
	return func(d *shipgraph.Deployment) string { return d.CursorOf(o).Encode() }
}

func sortDeployments(ds []*shipgraph.Deployment, o shipgraph.Order) []*shipgraph.Deployment {
	return sortedBy(ds, o.Desc, func(a, b *shipgraph.Deployment) int {
		if o.Field == shipgraph.OrderUpdatedAt {
			return a.UpdatedAt.Compare(b.UpdatedAt)
		}
		return a.CreatedAt.Compare(b.CreatedAt)
	}, func(d *shipgraph.Deployment) int64 { return d.ID })
}

func filterDeployments(ds []*shipgraph.Deployment, f shipgraph.DeploymentFilter, keep func(*shipgraph.Deployment) bool) []*shipgraph.Deployment {
	var out []*shipgraph.Deployment
	for _, d := range ds {
		if (f.Status == "" || d.Status == f.Status) && (f.Environment == "" || d.Environment == f.Environment) && keep(d) {
			out = append(out, d)
		}
	}
	return out
}

func reloadDeployments(t *testing.T, s *postgres.Store, ds []*shipgraph.Deployment) []*shipgraph.Deployment {
	t.Helper()
	out := try(s.DeploymentsByID(t.Context(), deploymentIDs(ds))).must(t)
	for i, d := range out {
		if d == nil {
			t.Fatalf("deployment %d is gone", ds[i].ID)
		}
	}
	return out
}

func TestListDeployments(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	tok := token(t)
	envA, envB := "stg-"+tok, "prd-"+tok
	fa, fb, fc := newFeature(t, s), newFeature(t, s), newFeature(t, s)
	b1, b2 := createBuild(t, s, fa.ID, "main"), createBuild(t, s, fa.ID, "main")
	b3, b4 := createBuild(t, s, fb.ID, "main"), createBuild(t, s, fc.ID, "main")
	type spec struct {
		f, b   int64
		env    string
		status shipgraph.DeploymentStatus
	}
	var all []*shipgraph.Deployment
	for _, sp := range []spec{
		{fa.ID, b1.ID, envA, shipgraph.DeploymentSucceeded},
		{fa.ID, b1.ID, envA, shipgraph.DeploymentFailed},
		{fa.ID, b1.ID, envB, shipgraph.DeploymentSucceeded},
		{fa.ID, b1.ID, envA, shipgraph.DeploymentQueued},
		{fa.ID, b2.ID, envB, shipgraph.DeploymentInProgress},
		{fa.ID, b2.ID, envB, shipgraph.DeploymentCancelled},
		{fa.ID, b2.ID, envA, shipgraph.DeploymentSucceeded},
		{fb.ID, b3.ID, envA, shipgraph.DeploymentSucceeded},
		{fb.ID, b3.ID, envB, shipgraph.DeploymentQueued},
		{fb.ID, b3.ID, envB, shipgraph.DeploymentFailed},
	} {
		all = append(all, insertDeployment(t, s, sp.f, sp.b, sp.env, sp.status))
	}
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Millisecond)
	for i, d := range all {
		execSQL(t, "UPDATE deployments SET created_at = $2, updated_at = $3 WHERE id = $1",
			d.ID, base.Add(time.Duration((10-i)/3)*time.Minute), base.Add(time.Duration(i%3)*time.Minute))
	}
	all = reloadDeployments(t, s, all)

	orders := []shipgraph.Order{createdAsc, createdDesc, {Field: shipgraph.OrderUpdatedAt}, {Field: shipgraph.OrderUpdatedAt, Desc: true}}
	filters := []shipgraph.DeploymentFilter{
		{},
		{Environment: envA},
		{Environment: envB},
		{Status: shipgraph.DeploymentSucceeded},
		{Status: shipgraph.DeploymentQueued},
		{Environment: envB, Status: shipgraph.DeploymentFailed},
		{Environment: envA, Status: shipgraph.DeploymentInProgress},
		{Environment: "none-" + tok},
	}
	fetch := func(qs []shipgraph.DeploymentQuery) ([]shipgraph.Page[*shipgraph.Deployment], error) {
		return s.ListDeployments(t.Context(), qs)
	}

	parentKinds := []struct {
		name    string
		parents []int64
		query   func(parent int64) shipgraph.DeploymentQuery
		belongs func(parent int64) func(*shipgraph.Deployment) bool
	}{
		{"per feature", []int64{fa.ID, fb.ID, fc.ID},
			func(p int64) shipgraph.DeploymentQuery { return shipgraph.DeploymentQuery{FeatureID: p} },
			func(p int64) func(*shipgraph.Deployment) bool {
				return func(d *shipgraph.Deployment) bool { return d.FeatureID == p }
			}},
		{"per build", []int64{b1.ID, b2.ID, b3.ID, b4.ID},
			func(p int64) shipgraph.DeploymentQuery { return shipgraph.DeploymentQuery{BuildID: p} },
			func(p int64) func(*shipgraph.Deployment) bool {
				return func(d *shipgraph.Deployment) bool { return d.BuildID == p }
			}},
	}
	for _, pk := range parentKinds {
		for _, o := range orders {
			t.Run("first/after and last/before "+pk.name+" visit each parent's rows once in order ("+orderName(o)+")", func(t *testing.T) {
				t.Parallel()
				query := func(parent int64, p shipgraph.PageArgs) shipgraph.DeploymentQuery {
					q := pk.query(parent)
					q.Order, q.Page = o, p
					return q
				}
				for _, size := range []int{1, 2, 3, 10} {
					for _, backward := range []bool{false, true} {
						got := walkBatch(t, pk.parents, size, backward, query, fetch, deploymentCursor(o))
						for i, p := range pk.parents {
							want := sortDeployments(filterDeployments(all, shipgraph.DeploymentFilter{}, pk.belongs(p)), o)
							requireIDs(t, fmt.Sprintf("parent %d, pages of %d, backward %v", i, size, backward), deploymentIDs(got[i]), deploymentIDs(want))
						}
					}
				}
			})
		}
		for _, f := range filters {
			t.Run(fmt.Sprintf("filter environment %q status %q %s, with counts", f.Environment, f.Status, pk.name), func(t *testing.T) {
				t.Parallel()
				o := createdDesc
				query := func(parent int64, p shipgraph.PageArgs) shipgraph.DeploymentQuery {
					q := pk.query(parent)
					q.Filter, q.Order, q.Page = f, o, p
					return q
				}
				got := walkBatch(t, pk.parents, 2, false, query, fetch, deploymentCursor(o))
				var qs []shipgraph.DeploymentQuery
				var wantCounts []int
				for i, p := range pk.parents {
					want := filterDeployments(all, f, pk.belongs(p))
					requireIDs(t, "parent "+itoa(i), deploymentIDs(got[i]), deploymentIDs(sortDeployments(want, o)))
					q := pk.query(p)
					q.Filter = f
					qs = append(qs, q)
					wantCounts = append(wantCounts, len(want))
				}
				if counts := try(s.CountDeployments(t.Context(), qs)).must(t); !slices.Equal(counts, wantCounts) {
					t.Errorf("CountDeployments = %v, want %v", counts, wantCounts)
				}
			})
		}
	}

	t.Run("root listing filtered by environment pages over every feature", func(t *testing.T) {
		t.Parallel()
		anything := func(*shipgraph.Deployment) bool { return true }
		for _, f := range []shipgraph.DeploymentFilter{
			{Environment: envA}, {Environment: envB}, {Environment: envB, Status: shipgraph.DeploymentQueued},
		} {
			want := filterDeployments(all, f, anything)
			for _, o := range orders {
				pager := onePager(fetch, func(p shipgraph.PageArgs) shipgraph.DeploymentQuery {
					return shipgraph.DeploymentQuery{Filter: f, Order: o, Page: p}
				})
				wantIDs := deploymentIDs(sortDeployments(want, o))
				requireIDs(t, "root forward "+orderName(o), deploymentIDs(walkForward(t, 2, pager, deploymentCursor(o))), wantIDs)
				requireIDs(t, "root backward "+orderName(o), deploymentIDs(walkBackward(t, 3, pager, deploymentCursor(o))), wantIDs)
			}
			if n := try(s.CountDeployments(t.Context(), []shipgraph.DeploymentQuery{{Filter: f}})).must(t); !slices.Equal(n, []int{len(want)}) {
				t.Errorf("CountDeployments(root %+v) = %v, want [%d]", f, n, len(want))
			}
		}
	})

	t.Run("a batch mixing builds, features and the root listing answers each query", func(t *testing.T) {
		t.Parallel()
		o := createdAsc
		envAOnly := shipgraph.DeploymentFilter{Environment: envA}
		qs := []shipgraph.DeploymentQuery{
			{BuildID: b2.ID, Order: o, Page: shipgraph.PageArgs{First: 10}},
			{FeatureID: fb.ID, Order: o, Page: shipgraph.PageArgs{First: 10}},
			{Filter: envAOnly, Order: o, Page: shipgraph.PageArgs{First: 10}},
			{BuildID: b1.ID, Order: o, Page: shipgraph.PageArgs{First: 10}},
			{FeatureID: fa.ID, Filter: envAOnly, Order: o, Page: shipgraph.PageArgs{First: 10}},
			{BuildID: missingID, Order: o, Page: shipgraph.PageArgs{First: 10}},
		}
		pages := try(s.ListDeployments(t.Context(), qs)).must(t)
		sel := func(f shipgraph.DeploymentFilter, keep func(*shipgraph.Deployment) bool) []int64 {
			return deploymentIDs(sortDeployments(filterDeployments(all, f, keep), o))
		}
		want := [][]int64{
			sel(shipgraph.DeploymentFilter{}, func(d *shipgraph.Deployment) bool { return d.BuildID == b2.ID }),
			sel(shipgraph.DeploymentFilter{}, func(d *shipgraph.Deployment) bool { return d.FeatureID == fb.ID }),
			sel(envAOnly, func(*shipgraph.Deployment) bool { return true }),
			sel(shipgraph.DeploymentFilter{}, func(d *shipgraph.Deployment) bool { return d.BuildID == b1.ID }),
			sel(envAOnly, func(d *shipgraph.Deployment) bool { return d.FeatureID == fa.ID }),
			{},
		}
		for i := range qs {
			requireIDs(t, "query "+itoa(i), deploymentIDs(pages[i].Items), want[i])
		}
	})

	t.Run("DeploymentsByID returns results in key order with nil for missing ids", func(t *testing.T) {
		t.Parallel()
		got := try(s.DeploymentsByID(t.Context(), []int64{all[3].ID, missingID, all[0].ID})).must(t)
		if len(got) != 3 || got[0] == nil || got[0].ID != all[3].ID || got[1] != nil || got[2] == nil || got[2].ID != all[0].ID {
			t.Errorf("DeploymentsByID([d3 missing d0]) = %v", got)
		}
		d := got[0]
		stages, err := d.Stages()
		if err != nil || d.FeatureID != fa.ID || d.BuildID != b1.ID || d.Environment != envA || d.Status != shipgraph.DeploymentQueued ||
			d.Progress != 0 || len(stages) != 0 || d.Error != nil || d.Version != 1 {
			t.Errorf("deployment read back as %+v", d)
		}
	})

	t.Run("invalid cursor is BAD_USER_INPUT", func(t *testing.T) {
		t.Parallel()
		c := all[0].CursorOf(createdAsc).Encode()
		_, err := s.ListDeployments(t.Context(), []shipgraph.DeploymentQuery{{FeatureID: fa.ID, Order: shipgraph.Order{Field: shipgraph.OrderUpdatedAt}, Page: shipgraph.PageArgs{First: 2, After: c}}})
		requireError(t, err, shipgraph.CodeBadUserInput, "after")
		_, err = s.ListDeployments(t.Context(), []shipgraph.DeploymentQuery{{BuildID: b1.ID, Order: createdAsc, Page: shipgraph.PageArgs{Last: 2, Before: "!!"}}})
		requireError(t, err, shipgraph.CodeBadUserInput, "before")
	})
}

func eventCursor(e *shipgraph.DeploymentEvent) string {
	return e.CursorOf(shipgraph.EventQuery{}.Order()).Encode()
}

func sortEvents(es []*shipgraph.DeploymentEvent) []*shipgraph.DeploymentEvent {
	return sortedBy(es, false,
		func(a, b *shipgraph.DeploymentEvent) int { return a.Sequence - b.Sequence },
		func(e *shipgraph.DeploymentEvent) int64 { return e.ID })
}

func TestListEvents(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	f := newFeature(t, s)
	b := createBuild(t, s, f.ID, "main")
	d0 := insertDeployment(t, s, f.ID, b.ID, "one", shipgraph.DeploymentSucceeded)
	d1 := insertDeployment(t, s, f.ID, b.ID, "two", shipgraph.DeploymentSucceeded)
	d2 := insertDeployment(t, s, f.ID, b.ID, "three", shipgraph.DeploymentFailed)
	e1 := insertEvents(t, s, d1.ID, 4)
	// Written out of order, so that ids do not follow the sequence.
	e2 := insertEventSeqs(t, s, d2.ID, 7, 3, 5, 1, 6, 2, 4)
	parents := []int64{d2.ID, d0.ID, d1.ID}
	want := [][]int64{eventIDs(sortEvents(e2)), {}, eventIDs(sortEvents(e1))}

	query := func(parent int64, p shipgraph.PageArgs) shipgraph.EventQuery {
		return shipgraph.EventQuery{DeploymentID: parent, Page: p}
	}
	fetch := func(qs []shipgraph.EventQuery) ([]shipgraph.Page[*shipgraph.DeploymentEvent], error) {
		return s.ListEvents(t.Context(), qs)
	}
	for _, size := range []int{1, 2, 3, 4, 7, 50} {
		t.Run("first/after and last/before over many deployments visit each one's events once in sequence order (pages of "+itoa(size)+")", func(t *testing.T) {
			t.Parallel()
			for _, backward := range []bool{false, true} {
				got := walkBatch(t, parents, size, backward, query, fetch, eventCursor)
				for i := range parents {
					requireIDs(t, fmt.Sprintf("deployment %d, backward %v", i, backward), eventIDs(got[i]), want[i])
				}
			}
		})
	}

	t.Run("sequences are 1..n in order", func(t *testing.T) {
		t.Parallel()
		pages := try(s.ListEvents(t.Context(), []shipgraph.EventQuery{{DeploymentID: d2.ID, Page: shipgraph.PageArgs{First: 100}}})).must(t)
		var seqs []int
		for _, e := range pages[0].Items {
			seqs = append(seqs, e.Sequence)
			if e.DeploymentID != d2.ID {
				t.Errorf("event %d of deployment %d", e.ID, e.DeploymentID)
			}
		}
		if !slices.Equal(seqs, []int{1, 2, 3, 4, 5, 6, 7}) {
			t.Errorf("sequences %v", seqs)
		}
	})

	t.Run("counts match", func(t *testing.T) {
		t.Parallel()
		got := try(s.CountEvents(t.Context(), []shipgraph.EventQuery{{DeploymentID: d1.ID}, {DeploymentID: d0.ID}, {DeploymentID: missingID}, {DeploymentID: d2.ID}})).must(t)
		if !slices.Equal(got, []int{4, 0, 0, 7}) {
			t.Errorf("CountEvents = %v, want [4 0 0 7]", got)
		}
	})

	t.Run("EventsByID returns results in key order with nil for missing ids", func(t *testing.T) {
		t.Parallel()
		got := try(s.EventsByID(t.Context(), []int64{e2[0].ID, missingID, e1[0].ID})).must(t)
		if len(got) != 3 || got[0] == nil || got[0].ID != e2[0].ID || got[0].Sequence != 7 || got[1] != nil || got[2] == nil || got[2].ID != e1[0].ID {
			t.Errorf("EventsByID([e2 missing e1]) = %v", got)
		}
	})

	t.Run("cursor of another ordering is BAD_USER_INPUT", func(t *testing.T) {
		t.Parallel()
		c := d0.CursorOf(createdAsc).Encode()
		_, err := s.ListEvents(t.Context(), []shipgraph.EventQuery{{DeploymentID: d1.ID, Page: shipgraph.PageArgs{First: 2, After: c}}})
		requireError(t, err, shipgraph.CodeBadUserInput, "after")
		_, err = s.ListEvents(t.Context(), []shipgraph.EventQuery{{DeploymentID: d1.ID, Page: shipgraph.PageArgs{Last: 2, Before: c}}})
		requireError(t, err, shipgraph.CodeBadUserInput, "before")
	})
}
