package shipgraph_test

import (
	"strings"
	"testing"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

var deploymentStatuses = []shipgraph.DeploymentStatus{
	shipgraph.DeploymentQueued, shipgraph.DeploymentInProgress, shipgraph.DeploymentSucceeded,
	shipgraph.DeploymentFailed, shipgraph.DeploymentCancelled,
}

func TestDeploymentStatus(t *testing.T) {
	t.Parallel()
	active := map[shipgraph.DeploymentStatus]bool{shipgraph.DeploymentQueued: true, shipgraph.DeploymentInProgress: true}
	for _, s := range deploymentStatuses {
		t.Run(string(s), func(t *testing.T) {
			t.Parallel()
			if !s.Valid() {
				t.Errorf("%s.Valid() = false", s)
			}
			if got := s.Active(); got != active[s] {
				t.Errorf("%s.Active() = %v, want %v", s, got, active[s])
			}
		})
	}
	t.Run("unknown statuses invalid", func(t *testing.T) {
		t.Parallel()
		for _, s := range []shipgraph.DeploymentStatus{"", "RUNNING", "queued"} {
			if s.Valid() {
				t.Errorf("%q.Valid() = true", s)
			}
		}
	})
}

func TestDeploymentFilterValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    shipgraph.DeploymentFilter
		field string
		want  shipgraph.DeploymentFilter
	}{
		{name: "zero filter matches anything", in: shipgraph.DeploymentFilter{}},
		{name: "known status accepted", in: shipgraph.DeploymentFilter{Status: shipgraph.DeploymentInProgress}, want: shipgraph.DeploymentFilter{Status: shipgraph.DeploymentInProgress}},
		{name: "unknown status rejected", in: shipgraph.DeploymentFilter{Status: "RUNNING"}, field: "filter.status"},
		{name: "environment slug accepted", in: shipgraph.DeploymentFilter{Environment: "production"}, want: shipgraph.DeploymentFilter{Environment: "production"}},
		{name: "environment with digits and hyphens accepted", in: shipgraph.DeploymentFilter{Environment: "eu-west-1"}, want: shipgraph.DeploymentFilter{Environment: "eu-west-1"}},
		{name: "environment of 1 character accepted", in: shipgraph.DeploymentFilter{Environment: "q"}, want: shipgraph.DeploymentFilter{Environment: "q"}},
		{name: "environment of 63 characters accepted", in: shipgraph.DeploymentFilter{Environment: strings.Repeat("e", 63)}, want: shipgraph.DeploymentFilter{Environment: strings.Repeat("e", 63)}},
		{name: "environment trimmed in place", in: shipgraph.DeploymentFilter{Environment: " staging\n"}, want: shipgraph.DeploymentFilter{Environment: "staging"}},
		{name: "environment of 64 characters rejected", in: shipgraph.DeploymentFilter{Environment: strings.Repeat("e", 64)}, field: "filter.environment"},
		{name: "environment upper case rejected", in: shipgraph.DeploymentFilter{Environment: "Production"}, field: "filter.environment"},
		{name: "environment underscore rejected", in: shipgraph.DeploymentFilter{Environment: "eu_west"}, field: "filter.environment"},
		{name: "environment inner space rejected", in: shipgraph.DeploymentFilter{Environment: "eu west"}, field: "filter.environment"},
		{name: "environment dot rejected", in: shipgraph.DeploymentFilter{Environment: "prod.eu"}, field: "filter.environment"},
		{name: "environment non-ASCII rejected", in: shipgraph.DeploymentFilter{Environment: "prodé"}, field: "filter.environment"},
		{name: "environment blank rejected", in: shipgraph.DeploymentFilter{Environment: "   "}, field: "filter.environment"},
		{name: "environment with inner newline rejected", in: shipgraph.DeploymentFilter{Environment: "prod\nx"}, field: "filter.environment"},
		{name: "status checked before environment", in: shipgraph.DeploymentFilter{Status: "X", Environment: "BAD"}, field: "filter.status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := tt.in
			check(t, f.Validate(), tt.field)
			if tt.field == "" && f != tt.want {
				t.Errorf("after Validate: got %+v, want %+v", f, tt.want)
			}
		})
	}
}

func TestEventQueryOrder(t *testing.T) {
	t.Parallel()
	if got := (shipgraph.EventQuery{}).Order(); got != (shipgraph.Order{Field: shipgraph.OrderSequence}) {
		t.Errorf("Order() = %+v, want SEQUENCE ascending", got)
	}
}

func TestStages(t *testing.T) {
	t.Parallel()
	want := []shipgraph.StageName{shipgraph.StagePreChecks, shipgraph.StageBuildArtifacts, shipgraph.StagePrepareInfrastructure, shipgraph.StageExecute}
	if len(shipgraph.Stages) != len(want) {
		t.Fatalf("Stages = %v, want %v", shipgraph.Stages, want)
	}
	for i := range want {
		if shipgraph.Stages[i] != want[i] {
			t.Errorf("Stages[%d] = %s, want %s", i, shipgraph.Stages[i], want[i])
		}
	}
}
