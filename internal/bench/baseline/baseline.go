// Package baseline is the benchmark's yardstick: a hand-written HTTP server
// that answers bench.Query, and only it, with plain pgx and encoding/json,
// as a careful programmer would without GraphQL: four batched statements
// (the features page; each feature's first 10 test cases with their count;
// each feature's 5 newest builds; each build's 2 newest deployments), then
// one json encoding of structs. Its answer equals Shipgraph's (same shape,
// field names, global ids and orders); scripts/bench.sh checks that before
// measuring either.
//
// It ignores the request body: it is not a GraphQL server, only the cost of
// producing the same bytes from the same database.
package baseline

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The page sizes of bench.Query.
const (
	featuresPage    = 50
	testCasesPage   = 10
	buildsPage      = 5
	deploymentsPage = 2
)

// Statements of the answer. Each child page is one LATERAL join over the
// parents' ids: per parent an index range scan with a LIMIT. The ORDER BY
// makes the order within a parent explicit instead of relying on the
// nested loop's output order.
var (
	featuresSQL = `SELECT id, name, complexity_points, status FROM features
		ORDER BY created_at, id LIMIT ` + strconv.Itoa(featuresPage)

	testCasesSQL = `SELECT p.feature_id, c.total, t.id, t.title, t.status
		FROM unnest($1::bigint[]) AS p(feature_id)
		CROSS JOIN LATERAL (SELECT count(*) AS total FROM test_cases WHERE feature_id = p.feature_id) c
		LEFT JOIN LATERAL (
			SELECT id, title, status, created_at FROM test_cases WHERE feature_id = p.feature_id
			ORDER BY created_at, id LIMIT ` + strconv.Itoa(testCasesPage) + `
		) t ON true
		ORDER BY p.feature_id, t.created_at, t.id`

	buildsSQL = `SELECT b.feature_id, b.id, b.number, b.status, b.commit_sha
		FROM unnest($1::bigint[]) AS p(feature_id)
		CROSS JOIN LATERAL (
			SELECT feature_id, id, number, status, commit_sha FROM builds WHERE feature_id = p.feature_id
			ORDER BY number DESC, id DESC LIMIT ` + strconv.Itoa(buildsPage) + `
		) b
		ORDER BY b.feature_id, b.number DESC, b.id DESC`

	deploymentsSQL = `SELECT d.build_id, d.id, d.environment, d.status, d.progress
		FROM unnest($1::bigint[]) AS p(build_id)
		CROSS JOIN LATERAL (
			SELECT build_id, id, environment, status, progress, created_at FROM deployments WHERE build_id = p.build_id
			ORDER BY created_at DESC, id DESC LIMIT ` + strconv.Itoa(deploymentsPage) + `
		) d
		ORDER BY d.build_id, d.created_at DESC, d.id DESC`
)

// The answer's shape: field names and order as in bench.Query.
type (
	Response struct {
		Data Data `json:"data"`
	}
	Data struct {
		Features FeatureConnection `json:"features"`
	}
	FeatureConnection struct {
		Nodes []*Feature `json:"nodes"`
	}
	Feature struct {
		ID               string             `json:"id"`
		Name             string             `json:"name"`
		ComplexityPoints int                `json:"complexityPoints"`
		Status           string             `json:"status"`
		TestCases        TestCaseConnection `json:"testCases"`
		Builds           BuildConnection    `json:"builds"`
	}
	TestCaseConnection struct {
		TotalCount int         `json:"totalCount"`
		Nodes      []*TestCase `json:"nodes"`
	}
	TestCase struct {
		ID     string `json:"id"`
		Title  string `json:"title"`
		Status string `json:"status"`
	}
	BuildConnection struct {
		Nodes []*Build `json:"nodes"`
	}
	Build struct {
		ID          string               `json:"id"`
		Number      int                  `json:"number"`
		Status      string               `json:"status"`
		CommitSHA   string               `json:"commitSha"`
		Deployments DeploymentConnection `json:"deployments"`
	}
	DeploymentConnection struct {
		Nodes []*Deployment `json:"nodes"`
	}
	Deployment struct {
		ID          string `json:"id"`
		Environment string `json:"environment"`
		Status      string `json:"status"`
		Progress    int    `json:"progress"`
	}
)

// globalID is Shipgraph's node id: base64url (no padding) of "Kind:id", as
// internal/shipgraph.EncodeID makes it (restated here, not imported, so the
// baseline owes nothing to the code it is compared with).
func globalID(kind string, id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + strconv.FormatInt(id, 10)))
}

// Server answers bench.Query from a pool.
type Server struct {
	pool       *pgxpool.Pool
	requests   atomic.Int64
	statements *atomic.Int64
}

// counter counts every statement the pool's connections send.
type counter struct{ n *atomic.Int64 }

func (c counter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// Open connects a pool of at most maxConns connections (0: pgx's default)
// to databaseURL and returns a Server over it. Close it when done.
func Open(ctx context.Context, databaseURL string, maxConns int32) (*Server, error) {
	pc, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, errors.New("baseline: invalid database URL")
	}
	if maxConns > 0 && !strings.Contains(databaseURL, "pool_max_conns") {
		pc.MaxConns = maxConns
	}
	pc.ConnConfig.ConnectTimeout = 5 * time.Second
	s := &Server{statements: new(atomic.Int64)}
	pc.ConnConfig.Tracer = counter{s.statements}
	s.pool, err = pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	if err := s.pool.Ping(ctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("baseline: cannot reach the database: %w", err)
	}
	return s, nil
}

// Close closes the pool.
func (s *Server) Close() { s.pool.Close() }

// Stats are the counters behind GET /debug/stats.
type Stats struct {
	Requests   int64 `json:"requests"`
	Statements int64 `json:"statements"`
}

// Stats returns the requests answered on /graphql and the statements sent.
func (s *Server) Stats() Stats {
	return Stats{Requests: s.requests.Load(), Statements: s.statements.Load()}
}

// Handler serves POST /graphql (always answering bench.Query), GET /readyz
// and GET /debug/stats.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /graphql", s.serveQuery)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.pool.Ping(ctx); err != nil {
			http.Error(w, `{"ready":false}`, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ready":true}`)
	})
	mux.HandleFunc("GET /debug/stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.Stats())
	})
	return mux
}

func (s *Server) serveQuery(w http.ResponseWriter, r *http.Request) {
	// Read the request like a real server would, then ignore it.
	io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, 1<<20))
	s.requests.Add(1)
	resp, err := s.Answer(r.Context())
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"message": err.Error()}}})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // as gqlgen: text goes out as stored
	enc.Encode(resp)
}

// Answer reads bench.Query's answer from the database.
func (s *Server) Answer(ctx context.Context) (*Response, error) {
	resp := &Response{Data: Data{Features: FeatureConnection{Nodes: []*Feature{}}}}

	// 1. The features page.
	rows, err := s.pool.Query(ctx, featuresSQL)
	if err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	var featureIDs []int64
	byFeature := make(map[int64]*Feature, featuresPage)
	for rows.Next() {
		var id int64
		f := &Feature{
			TestCases: TestCaseConnection{Nodes: []*TestCase{}},
			Builds:    BuildConnection{Nodes: []*Build{}},
		}
		if err := rows.Scan(&id, &f.Name, &f.ComplexityPoints, &f.Status); err != nil {
			rows.Close()
			return nil, fmt.Errorf("features: %w", err)
		}
		f.ID = globalID("Feature", id)
		featureIDs = append(featureIDs, id)
		byFeature[id] = f
		resp.Data.Features.Nodes = append(resp.Data.Features.Nodes, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	if len(featureIDs) == 0 {
		return resp, nil
	}

	// 2. Each feature's first test cases and their count. A feature
	// without test cases comes back as one row with NULL test case columns.
	rows, err = s.pool.Query(ctx, testCasesSQL, featureIDs)
	if err != nil {
		return nil, fmt.Errorf("test cases: %w", err)
	}
	for rows.Next() {
		var featureID, total int64
		var id *int64
		var title, status *string
		if err := rows.Scan(&featureID, &total, &id, &title, &status); err != nil {
			rows.Close()
			return nil, fmt.Errorf("test cases: %w", err)
		}
		f := byFeature[featureID]
		f.TestCases.TotalCount = int(total)
		if id != nil {
			f.TestCases.Nodes = append(f.TestCases.Nodes, &TestCase{ID: globalID("TestCase", *id), Title: *title, Status: *status})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("test cases: %w", err)
	}

	// 3. Each feature's newest builds.
	rows, err = s.pool.Query(ctx, buildsSQL, featureIDs)
	if err != nil {
		return nil, fmt.Errorf("builds: %w", err)
	}
	var buildIDs []int64
	byBuild := make(map[int64]*Build, featuresPage*buildsPage)
	for rows.Next() {
		var featureID, id int64
		b := &Build{Deployments: DeploymentConnection{Nodes: []*Deployment{}}}
		if err := rows.Scan(&featureID, &id, &b.Number, &b.Status, &b.CommitSHA); err != nil {
			rows.Close()
			return nil, fmt.Errorf("builds: %w", err)
		}
		b.ID = globalID("Build", id)
		buildIDs = append(buildIDs, id)
		byBuild[id] = b
		f := byFeature[featureID]
		f.Builds.Nodes = append(f.Builds.Nodes, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("builds: %w", err)
	}
	if len(buildIDs) == 0 {
		return resp, nil
	}

	// 4. Each build's newest deployments.
	rows, err = s.pool.Query(ctx, deploymentsSQL, buildIDs)
	if err != nil {
		return nil, fmt.Errorf("deployments: %w", err)
	}
	for rows.Next() {
		var buildID, id int64
		d := &Deployment{}
		if err := rows.Scan(&buildID, &id, &d.Environment, &d.Status, &d.Progress); err != nil {
			rows.Close()
			return nil, fmt.Errorf("deployments: %w", err)
		}
		d.ID = globalID("Deployment", id)
		b := byBuild[buildID]
		b.Deployments.Nodes = append(b.Deployments.Nodes, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("deployments: %w", err)
	}
	return resp, nil
}
