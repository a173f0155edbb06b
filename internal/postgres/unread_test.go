package postgres_test

import (
	"reflect"
	"testing"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// TestListingsLeaveUnreadFieldsEmpty: a listing in a context that says a
// large field will not be asked for leaves that field empty and reads
// everything else as a whole-row listing does; lookups by id ignore it.
func TestListingsLeaveUnreadFieldsEmpty(t *testing.T) {
	t.Parallel()
	s, d, _ := newDeployment(t, "staging")
	ctx := t.Context()
	if _, _, err := s.Transition(ctx, shipgraph.Transition{DeploymentID: d.ID, Status: shipgraph.DeploymentInProgress}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTestCase(ctx, shipgraph.TestCaseCreate{FeatureID: d.FeatureID, Title: "logs in", Steps: "1. open", ExpectedResult: "a session"}); err != nil {
		t.Fatal(err)
	}
	description := "what it does"
	if _, err := s.UpdateFeature(ctx, shipgraph.FeatureUpdate{ID: d.FeatureID, Description: &description}); err != nil {
		t.Fatal(err)
	}
	lean := shipgraph.WithUnread(ctx, shipgraph.Unread{FeatureDescription: true, TestCaseText: true, BuildTimes: true,
		DeploymentStages: true, DeploymentError: true, DeploymentTimes: true})

	// same reports whether got is want with clear applied to a copy of it.
	same := func(t *testing.T, got, want any, clear func(v reflect.Value)) {
		t.Helper()
		w := reflect.New(reflect.TypeOf(want).Elem())
		w.Elem().Set(reflect.ValueOf(want).Elem())
		clear(w.Elem())
		if !reflect.DeepEqual(got, w.Interface()) {
			t.Errorf("lean listing read %+v, want %+v", got, w.Interface())
		}
	}

	t.Run("deployments without stages, error and times", func(t *testing.T) {
		q := []shipgraph.DeploymentQuery{{BuildID: d.BuildID, Order: shipgraph.Order{Field: shipgraph.OrderCreatedAt}}}
		full := try(s.ListDeployments(ctx, q)).must(t)[0].Items[0]
		got := try(s.ListDeployments(lean, q)).must(t)[0].Items[0]
		if len(full.StagesJSON) == 0 || full.StartedAt == nil {
			t.Fatal("the whole row has no stages or start time to leave out")
		}
		same(t, got, full, func(v reflect.Value) {
			for _, f := range []string{"StagesJSON", "Error", "StartedAt", "FinishedAt"} {
				v.FieldByName(f).SetZero()
			}
		})
		byID := try(s.DeploymentsByID(lean, []int64{d.ID})).must(t)[0]
		if !reflect.DeepEqual(byID, full) {
			t.Errorf("a lookup by id left something out: %+v", byID)
		}
	})
	t.Run("builds without times", func(t *testing.T) {
		q := []shipgraph.BuildQuery{{FeatureID: d.FeatureID, Order: shipgraph.Order{Field: shipgraph.OrderCreatedAt}}}
		full := try(s.ListBuilds(ctx, q)).must(t)[0].Items[0]
		got := try(s.ListBuilds(lean, q)).must(t)[0].Items[0]
		if full.StartedAt == nil || full.FinishedAt == nil {
			t.Fatal("the whole row has no times to leave out")
		}
		same(t, got, full, func(v reflect.Value) {
			v.FieldByName("StartedAt").SetZero()
			v.FieldByName("FinishedAt").SetZero()
		})
	})
	t.Run("test cases without steps and expected result", func(t *testing.T) {
		q := []shipgraph.TestCaseQuery{{FeatureID: d.FeatureID}}
		full := try(s.ListTestCases(ctx, q)).must(t)[0].Items[0]
		got := try(s.ListTestCases(lean, q)).must(t)[0].Items[0]
		same(t, got, full, func(v reflect.Value) {
			v.FieldByName("Steps").SetZero()
			v.FieldByName("ExpectedResult").SetZero()
		})
	})
	t.Run("features without description", func(t *testing.T) {
		q := shipgraph.FeatureQuery{Filter: shipgraph.FeatureFilter{Search: description}, Order: shipgraph.Order{Field: shipgraph.OrderCreatedAt}}
		full := try(s.ListFeatures(ctx, q)).must(t).Items
		got := try(s.ListFeatures(lean, q)).must(t).Items
		if len(full) != 1 || len(got) != 1 || full[0].Description != description {
			t.Fatalf("listed %d and %d features", len(full), len(got))
		}
		same(t, got[0], full[0], func(v reflect.Value) { v.FieldByName("Description").SetZero() })
	})
}
