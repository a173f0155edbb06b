package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// deepQuery follows every relation, with nested pagination, filters and
// counts, three and four levels down.
const deepQuery = `query Deep($n: Int!, $search: String!) {
  features(first: $n, filter: {search: $search}, orderBy: {field: NAME, direction: ASC}) {
    totalCount
    nodes {
      id
      name
      testCases(first: 10) { totalCount nodes { id title status } }
      failing: testCases(first: 5, filter: {status: FAILED}) { nodes { id } }
      builds(first: 5) {
        totalCount
        nodes {
          id
          number
          deployments(first: 2) {
            totalCount
            nodes {
              id
              environment
              events(last: 2) { nodes { sequence } }
              build { id feature { id } }
            }
          }
        }
      }
    }
  }
}`

// Statements the deep query needs, whatever the number of features:
// features page + count, test cases page + count, failing test cases page,
// builds page + count, deployments page + count, events page. Following
// deployment.build and build.feature back up costs nothing: the pages
// primed the by-id loaders.
const deepQueryStatements = 10

// seedDeep inserts n features named after token, each with 4 test cases
// (one FAILED), 3 builds, 2 deployments per build and 3 events per deployment.
func seedDeep(t *testing.T, token string, n int) {
	t.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, testDB.DB.Pool, func(tx pgx.Tx) error {
		stmts := []string{
			`INSERT INTO features (name, complexity_points, last_build_number)
			 SELECT $1 || ' ' || lpad(i::text, 4, '0'), 1 + i % 13, 3 FROM generate_series(1, $2) i`,
			`INSERT INTO test_cases (feature_id, title, status)
			 SELECT f.id, 'case ' || j, CASE WHEN j = 2 THEN 'FAILED' ELSE 'PASSED' END
			 FROM features f, generate_series(1, 4) j WHERE f.name LIKE $1 || ' %' AND $2 > 0`,
			`INSERT INTO builds (feature_id, number, commit_sha, branch, status)
			 SELECT f.id, j, md5(f.id::text || j), 'main', 'SUCCEEDED'
			 FROM features f, generate_series(1, 3) j WHERE f.name LIKE $1 || ' %' AND $2 > 0`,
			`INSERT INTO deployments (build_id, feature_id, environment, status, progress)
			 SELECT b.id, b.feature_id, 'env-' || b.number || '-' || j, 'SUCCEEDED', 100
			 FROM builds b JOIN features f ON f.id = b.feature_id, generate_series(1, 2) j
			 WHERE f.name LIKE $1 || ' %' AND $2 > 0`,
			`INSERT INTO deployment_events (deployment_id, sequence, status, progress, message)
			 SELECT d.id, j, 'SUCCEEDED', j * 33, 'step ' || j
			 FROM deployments d JOIN features f ON f.id = d.feature_id, generate_series(1, 3) j
			 WHERE f.name LIKE $1 || ' %' AND $2 > 0`,
		}
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s, token, n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// statementsOf returns the SQL statement count the server logged for the
// request with the given id.
func (s *testServer) statementsOf(t *testing.T, requestID string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(s.logs.String(), "\n") {
			var entry struct {
				Msg           string
				RequestID     string `json:"request_id"`
				SQLStatements int    `json:"sql_statements"`
			}
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "request" && entry.RequestID == requestID {
				return entry.SQLStatements
			}
		}
		// The access log is written just after the response.
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no log line for request %s", requestID)
	return 0
}

// countedQuery sends query with a request id made of token, fails on any
// error, and returns the answer and how to read its statement count.
func (s *testServer) countedQuery(t *testing.T, token, query string, vars map[string]any) (*gqlResponse, func() int) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	id := strings.ReplaceAll(token, "x", "-")
	req.Header.Set("X-Request-ID", id)
	r := do(t, req)
	if len(r.Errors) > 0 {
		t.Fatalf("errors: %s", r.raw)
	}
	return r, func() int { t.Helper(); return s.statementsOf(t, id) }
}

// Batching by siblings does not depend on timing, so the count holds under
// the race detector and on a busy machine alike.
func TestDeepQueryCostsFixedStatements(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	for _, n := range []int{1, 10, 100} {
		t.Run(fmt.Sprintf("%d features", n), func(t *testing.T) {
			token := fmt.Sprintf("deep%dx%d", n, time.Now().UnixNano())
			seedDeep(t, token, n)

			r, statements := s.countedQuery(t, token, deepQuery, map[string]any{"n": n, "search": token})
			if got := statements(); got != deepQueryStatements {
				t.Errorf("%d features: %d SQL statements, want %d", n, got, deepQueryStatements)
			}
			var got struct{ Features referenceFeatures }
			if err := json.Unmarshal(r.Data, &got); err != nil {
				t.Fatal(err)
			}
			want := referenceDeep(t, token)
			if len(got.Features.Nodes) != n || !reflect.DeepEqual(got.Features, want) {
				t.Errorf("response differs from the reference query\n got %+v\nwant %+v", got.Features, want)
			}
		})
	}
}

// The shapes of the deep query's answer, filled by the reference below.
type (
	referenceFeatures struct {
		TotalCount int
		Nodes      []referenceFeature
	}
	referenceFeature struct {
		ID, Name  string
		TestCases struct {
			TotalCount int
			Nodes      []struct{ ID, Title, Status string }
		}
		Failing struct{ Nodes []struct{ ID string } }
		Builds  struct {
			TotalCount int
			Nodes      []referenceBuild
		}
	}
	referenceBuild struct {
		ID          string
		Number      int
		Deployments struct {
			TotalCount int
			Nodes      []referenceDeployment
		}
	}
	referenceDeployment struct {
		ID, Environment string
		Events          struct{ Nodes []struct{ Sequence int } }
		Build           struct {
			ID      string
			Feature struct{ ID string }
		}
	}
)

// referenceDeep answers the deep query the obvious way: one plain query
// per parent, straight from the tables.
func referenceDeep(t *testing.T, token string) referenceFeatures {
	t.Helper()
	ctx := context.Background()
	pool := testDB.DB.Pool
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var out referenceFeatures
	rows, _ := pool.Query(ctx, `SELECT id, name FROM features WHERE name LIKE $1 || ' %' ORDER BY name, id`, token)
	type idName struct {
		ID   int64
		Name string
	}
	fs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[idName])
	must(err)
	out.TotalCount = len(fs)
	out.Nodes = []referenceFeature{}
	for _, f := range fs {
		rf := referenceFeature{ID: shipgraph.EncodeID(shipgraph.KindFeature, f.ID), Name: f.Name}
		must(pool.QueryRow(ctx, `SELECT count(*) FROM test_cases WHERE feature_id = $1`, f.ID).Scan(&rf.TestCases.TotalCount))
		rows, _ := pool.Query(ctx, `SELECT id, title, status FROM test_cases WHERE feature_id = $1 ORDER BY created_at, id LIMIT 10`, f.ID)
		var id int64
		var title, status string
		_, err := pgx.ForEachRow(rows, []any{&id, &title, &status}, func() error {
			rf.TestCases.Nodes = append(rf.TestCases.Nodes, struct{ ID, Title, Status string }{shipgraph.EncodeID(shipgraph.KindTestCase, id), title, status})
			return nil
		})
		must(err)
		rows, _ = pool.Query(ctx, `SELECT id FROM test_cases WHERE feature_id = $1 AND status = 'FAILED' ORDER BY created_at, id LIMIT 5`, f.ID)
		_, err = pgx.ForEachRow(rows, []any{&id}, func() error {
			rf.Failing.Nodes = append(rf.Failing.Nodes, struct{ ID string }{shipgraph.EncodeID(shipgraph.KindTestCase, id)})
			return nil
		})
		must(err)
		must(pool.QueryRow(ctx, `SELECT count(*) FROM builds WHERE feature_id = $1`, f.ID).Scan(&rf.Builds.TotalCount))
		rows, _ = pool.Query(ctx, `SELECT id, number FROM builds WHERE feature_id = $1 ORDER BY number DESC, id DESC LIMIT 5`, f.ID)
		var number int
		var builds []referenceBuild
		_, err = pgx.ForEachRow(rows, []any{&id, &number}, func() error {
			builds = append(builds, referenceBuild{ID: shipgraph.EncodeID(shipgraph.KindBuild, id), Number: number})
			return nil
		})
		must(err)
		for i := range builds {
			b := &builds[i]
			buildID, _ := shipgraph.DecodeID("id", b.ID, shipgraph.KindBuild)
			must(pool.QueryRow(ctx, `SELECT count(*) FROM deployments WHERE build_id = $1`, buildID).Scan(&b.Deployments.TotalCount))
			rows, _ := pool.Query(ctx, `SELECT id, environment FROM deployments WHERE build_id = $1 ORDER BY created_at DESC, id DESC LIMIT 2`, buildID)
			var env string
			_, err := pgx.ForEachRow(rows, []any{&id, &env}, func() error {
				d := referenceDeployment{ID: shipgraph.EncodeID(shipgraph.KindDeployment, id), Environment: env}
				d.Build.ID = b.ID
				d.Build.Feature.ID = rf.ID
				b.Deployments.Nodes = append(b.Deployments.Nodes, d)
				return nil
			})
			must(err)
			for j := range b.Deployments.Nodes {
				d := &b.Deployments.Nodes[j]
				depID, _ := shipgraph.DecodeID("id", d.ID, shipgraph.KindDeployment)
				rows, _ := pool.Query(ctx, `SELECT sequence FROM (SELECT sequence FROM deployment_events WHERE deployment_id = $1 ORDER BY sequence DESC LIMIT 2) s ORDER BY sequence`, depID)
				var seq int
				_, err := pgx.ForEachRow(rows, []any{&seq}, func() error {
					d.Events.Nodes = append(d.Events.Nodes, struct{ Sequence int }{seq})
					return nil
				})
				must(err)
			}
		}
		rf.Builds.Nodes = builds
		out.Nodes = append(out.Nodes, rf)
	}
	return out
}

// upQuery starts at builds and follows relations back up to their feature
// and down again: the features reached from the builds (one lookup by id
// for all of them) are siblings, so their own relations batch too.
const upQuery = `query Up($branch: String!) {
  builds(first: 100, filter: {branch: $branch}) {
    nodes {
      number
      feature { name builds(first: 2) { totalCount } testCases(first: 1) { nodes { title } } }
      deployments(first: 2) {
        nodes { events(first: 1) { nodes { deployment { build { number } feature { name } } } } }
      }
    }
  }
}`

// Statements upQuery needs, whatever the number of builds: the builds
// page, their features by id, the features' builds page and count and test
// cases page, the builds' deployments page, the deployments' events page.
// event.deployment, deployment.build and deployment.feature cost nothing:
// every one of them was loaded already.
const upQueryStatements = 7

func TestUpwardRelationsCostFixedStatements(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	for _, n := range []int{1, 10, 100} {
		t.Run(fmt.Sprintf("%d features", n), func(t *testing.T) {
			token := fmt.Sprintf("up%dx%d", n, time.Now().UnixNano())
			seedDeep(t, token, n)
			// The builds of this run alone, on a branch of their own.
			_, err := testDB.DB.Pool.Exec(context.Background(),
				`UPDATE builds SET branch = $1 FROM features f WHERE f.id = builds.feature_id AND f.name LIKE $1 || ' %'`, token)
			if err != nil {
				t.Fatal(err)
			}
			r, statements := s.countedQuery(t, token, upQuery, map[string]any{"branch": token})
			var got struct {
				Builds struct {
					Nodes []struct {
						Feature struct {
							Name   string
							Builds struct{ TotalCount int }
						}
						Deployments struct {
							Nodes []struct {
								Events struct {
									Nodes []struct {
										Deployment struct{ Feature struct{ Name string } }
									}
								}
							}
						}
					}
				}
			}
			if err := json.Unmarshal(r.Data, &got); err != nil {
				t.Fatal(err)
			}
			if want := min(3*n, 100); len(got.Builds.Nodes) != want {
				t.Fatalf("%d builds, want %d", len(got.Builds.Nodes), want)
			}
			for _, b := range got.Builds.Nodes {
				if !strings.HasPrefix(b.Feature.Name, token+" ") || b.Feature.Builds.TotalCount != 3 || len(b.Deployments.Nodes) != 2 {
					t.Fatalf("a build's relations: %+v", b)
				}
				for _, d := range b.Deployments.Nodes {
					if len(d.Events.Nodes) != 1 || d.Events.Nodes[0].Deployment.Feature.Name != b.Feature.Name {
						t.Fatalf("a deployment's way back up: %+v", d)
					}
				}
			}
			if got := statements(); got != upQueryStatements {
				t.Errorf("%d features: %d SQL statements, want %d", n, got, upQueryStatements)
			}
		})
	}
}
