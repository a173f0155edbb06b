package main

import (
	"testing"

	"github.com/shipgraph/shipgraph/internal/auth"
)

// succeededBuild creates a feature with a build that has SUCCEEDED and
// returns the feature's and the build's ids.
func (s *testServer) succeededBuild(t *testing.T) (featureID, buildID string) {
	t.Helper()
	f := s.newFeature(t, "deploy "+token(t), 3, "READY")
	b := s.newBuild(t, f.ID, "main")
	for _, status := range []string{"RUNNING", "SUCCEEDED"} {
		var out struct {
			UpdateBuildStatus struct{ Build struct{ Status string } }
		}
		s.mustData(t, `mutation($id: ID!, $s: BuildStatus!) { updateBuildStatus(input: {id: $id, status: $s}) { build { status } } }`,
			map[string]any{"id": b.ID, "s": status}, &out)
	}
	return f.ID, b.ID
}

const createDeployment = `mutation($b: ID!, $env: String!, $key: String) {
  createDeployment(input: {buildId: $b, environment: $env, idempotencyKey: $key}) {
    created
    deployment { id status progress environment stages { name status } events { totalCount nodes { sequence status message } } }
  }
}`

type createdDeployment struct {
	CreateDeployment struct {
		Created    bool
		Deployment struct {
			ID, Status, Environment string
			Progress                int
			Stages                  []struct{ Name, Status string }
			Events                  struct {
				TotalCount int
				Nodes      []struct {
					Sequence        int
					Status, Message string
				}
			}
		}
	}
}

func TestCreateDeploymentRecordsAQueuedDeployment(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	_, build := s.succeededBuild(t)
	var out createdDeployment
	s.mustData(t, createDeployment, map[string]any{"b": build, "env": "staging"}, &out)
	d := out.CreateDeployment.Deployment
	if !out.CreateDeployment.Created || d.Status != "QUEUED" || d.Progress != 0 || d.Environment != "staging" {
		t.Fatalf("got %+v", out)
	}
	if len(d.Stages) != 4 || d.Stages[0].Name != "PRE_CHECKS" || d.Stages[3].Name != "EXECUTE" || d.Stages[0].Status != "PENDING" {
		t.Errorf("stages %+v", d.Stages)
	}
	if d.Events.TotalCount != 1 || d.Events.Nodes[0].Sequence != 1 || d.Events.Nodes[0].Status != "QUEUED" {
		t.Errorf("first event %+v", d.Events)
	}
}

func TestCreateDeploymentRefusesBadInput(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	f, build := s.succeededBuild(t)
	queued := s.newBuild(t, f, "main")
	for _, tc := range []struct {
		name        string
		vars        map[string]any
		code, field string
	}{
		{"a build that has not succeeded", map[string]any{"b": queued.ID, "env": "staging"}, "BAD_USER_INPUT", "buildId"},
		{"an environment that is not a slug", map[string]any{"b": build, "env": "Prod_1"}, "BAD_USER_INPUT", "environment"},
		{"an environment of 64 characters", map[string]any{"b": build, "env": "a234567890123456789012345678901234567890123456789012345678901234"}, "BAD_USER_INPUT", "environment"},
		{"a feature id for the build", map[string]any{"b": f, "env": "staging"}, "BAD_USER_INPUT", "buildId"},
		{"an idempotency key with spaces", map[string]any{"b": build, "env": "staging", "key": "a b"}, "BAD_USER_INPUT", "idempotencyKey"},
	} {
		r := s.post(t, createDeployment, tc.vars)
		if r.code() != tc.code || r.field() != tc.field {
			t.Errorf("%s: got %s", tc.name, r.raw)
		}
	}
	var feat struct {
		Feature struct{ Deployments struct{ TotalCount int } }
	}
	s.mustData(t, `query($f: ID!) { feature(id: $f) { deployments { totalCount } } }`, map[string]any{"f": f}, &feat)
	if feat.Feature.Deployments.TotalCount != 0 {
		t.Fatalf("a refused request wrote %d deployments", feat.Feature.Deployments.TotalCount)
	}
}

func TestCreateDeploymentIsIdempotentAndOneActivePerEnvironment(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	_, build := s.succeededBuild(t)
	key := "req-" + token(t)
	var first, again createdDeployment
	s.mustData(t, createDeployment, map[string]any{"b": build, "env": "staging", "key": key}, &first)
	s.mustData(t, createDeployment, map[string]any{"b": build, "env": "staging", "key": key}, &again)
	if again.CreateDeployment.Created || again.CreateDeployment.Deployment.ID != first.CreateDeployment.Deployment.ID {
		t.Fatalf("a retry with the same key made another deployment: %+v vs %+v", first, again)
	}
	if r := s.post(t, createDeployment, map[string]any{"b": build, "env": "qa", "key": key}); r.code() != "CONFLICT" || r.field() != "idempotencyKey" {
		t.Errorf("the key reused for another environment: %s", r.raw)
	}
	if r := s.post(t, createDeployment, map[string]any{"b": build, "env": "staging"}); r.code() != "CONFLICT" || r.field() != "environment" {
		t.Errorf("a second active deployment to staging: %s", r.raw)
	}
	var other createdDeployment
	s.mustData(t, createDeployment, map[string]any{"b": build, "env": "qa"}, &other)
	if !other.CreateDeployment.Created {
		t.Error("another environment was refused")
	}
}

func TestCancelDeployment(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	_, build := s.succeededBuild(t)
	var out createdDeployment
	s.mustData(t, createDeployment, map[string]any{"b": build, "env": "staging"}, &out)
	id := out.CreateDeployment.Deployment.ID
	const cancel = `mutation($id: ID!) { cancelDeployment(input: {id: $id}) {
	  deployment { status finishedAt events { totalCount nodes { sequence status } } } } }`
	type cancelled struct {
		CancelDeployment struct {
			Deployment struct {
				Status     string
				FinishedAt *string
				Events     struct {
					TotalCount int
					Nodes      []struct {
						Sequence int
						Status   string
					}
				}
			}
		}
	}
	var c1, c2 cancelled
	s.mustData(t, cancel, map[string]any{"id": id}, &c1)
	d := c1.CancelDeployment.Deployment
	if d.Status != "CANCELLED" || d.FinishedAt == nil || d.Events.TotalCount != 2 || d.Events.Nodes[1].Sequence != 2 || d.Events.Nodes[1].Status != "CANCELLED" {
		t.Fatalf("after cancel: %+v", d)
	}
	// Cancelling a finished deployment is a no-op answer.
	s.mustData(t, cancel, map[string]any{"id": id}, &c2)
	if c2.CancelDeployment.Deployment.Status != "CANCELLED" || c2.CancelDeployment.Deployment.Events.TotalCount != 2 {
		t.Fatalf("second cancel changed something: %+v", c2)
	}
	// Its environment is free again.
	var next createdDeployment
	s.mustData(t, createDeployment, map[string]any{"b": build, "env": "staging"}, &next)
}

func TestDeploymentMutationsNeedTheDeployerRole(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	_, build := s.succeededBuild(t)
	for _, p := range []struct {
		name  string
		token string
		code  string
	}{
		{"anonymous", "", "UNAUTHENTICATED"},
		{"viewer", testToken(t, auth.RoleViewer), "FORBIDDEN"},
		{"editor", testToken(t, auth.RoleEditor), "FORBIDDEN"},
		{"deployer", testToken(t, auth.RoleDeployer), ""},
	} {
		r := s.postAs(t, p.token, createDeployment, map[string]any{"b": build, "env": "env-" + p.name})
		if r.code() != p.code {
			t.Errorf("%s: got %s", p.name, r.raw)
		}
		if p.code == "FORBIDDEN" && r.Errors[0].Message != "requires the DEPLOYER role" {
			t.Errorf("%s: message %q", p.name, r.Errors[0].Message)
		}
	}
}
