// Package metrics is the Prometheus adapter: the server's metrics, kept in
// a registry of its own (never the global one, so that tests and libraries
// cannot add series behind our back), and the handler that serves them.
//
// Label values that come from clients are bounded: an attacker (or a code
// generator) naming every operation differently would otherwise create a
// series per request until the scrape is megabytes long and Prometheus
// struggles. See Labels.
package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// Label values for what the bounds fold together.
const (
	// Anonymous names an operation without a name.
	Anonymous = "anonymous"
	// Other names everything past a label's bound.
	Other = "other"
	// Unmatched is the route of a request no route matched (a 404).
	Unmatched = "unmatched"
	// Unknown is the type of a request that carried no valid operation
	// (it did not parse or validate).
	Unknown = "unknown"
)

// Outcomes of a GraphQL operation.
const (
	OutcomeOK = "ok"
	// OutcomeClientError: it answered errors the client can act on
	// (BAD_USER_INPUT, NOT_FOUND, FORBIDDEN, RATE_LIMITED, validation…).
	OutcomeClientError = "client_error"
	// OutcomeServerError: an INTERNAL_SERVER_ERROR or a TIMEOUT, what an
	// operator must look at.
	OutcomeServerError = "server_error"
)

// MaxOperationNames is how many distinct operation names get a series of
// their own; the names seen after that are counted as "other". A real
// client sends a few dozen names (its generated documents); a hundred
// leaves room for several clients while bounding the histograms at
// 100 names × 3 types × 3 outcomes × 17 buckets.
const MaxOperationNames = 100

// durationBuckets cover a cached read (1 ms) to the request timeout (10 s),
// and then the lives of subscriptions and WebSocket connections (up to an
// hour), which share the histograms under their own labels.
var durationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 3600}

// Metrics holds the server's metrics.
type Metrics struct {
	reg *prometheus.Registry

	httpDuration  *prometheus.HistogramVec
	opDuration    *prometheus.HistogramVec
	errors        *prometheus.CounterVec
	statements    *prometheus.HistogramVec
	batchSize     *prometheus.HistogramVec
	executors     *prometheus.CounterVec
	websockets    prometheus.Gauge
	subscriptions prometheus.Gauge
	deployments   *prometheus.CounterVec
	stageDuration *prometheus.HistogramVec

	operationNames *Labels
	errorCodes     *Labels
}

// New returns the metrics, registered with the Go runtime's and the
// process's collectors and a build_info series for version.
func New(version string) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "shipgraph", Name: "http_request_duration_seconds",
			Help:    "Duration of HTTP requests by route pattern, method and status class (WebSocket connections are 1xx and last as long as the connection).",
			Buckets: durationBuckets,
		}, []string{"route", "method", "status"}),
		opDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "shipgraph", Name: "graphql_operation_duration_seconds",
			Help:    "Duration of GraphQL operations (a subscription: from start to end) by operation name, type and outcome.",
			Buckets: durationBuckets,
		}, []string{"operation", "type", "outcome"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "shipgraph", Name: "graphql_errors_total",
			Help: "GraphQL errors answered, by extensions.code.",
		}, []string{"code"}),
		statements: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "shipgraph", Name: "graphql_sql_statements",
			Help:    "SQL statements one GraphQL operation sent to PostgreSQL, by operation type.",
			Buckets: []float64{0, 1, 2, 3, 5, 10, 20, 50, 100, 250},
		}, []string{"type"}),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "shipgraph", Name: "loader_batch_size",
			Help:    "Keys loaded by one batched statement, by loader (a relation, or an entity looked up by id).",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000},
		}, []string{"loader"}),
		executors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "shipgraph", Name: "graphql_executor_operations_total",
			Help: "GraphQL operations by executor: queryexec (answered by Shipgraph's own executor), gqlgen (left to gqlgen's before running), fallback (started on queryexec, answered by gqlgen after an error), and by type.",
		}, []string{"executor", "type"}),
		websockets: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "shipgraph", Name: "websocket_connections",
			Help: "Open WebSocket connections that completed connection_init.",
		}),
		subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "shipgraph", Name: "subscriptions_active",
			Help: "Subscriptions running now, over WebSocket and Server-Sent Events.",
		}),
		deployments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "shipgraph", Name: "deployments_finished_total",
			Help: "Deployments this instance's workers ended (or found ended by a cancellation while they ran them), by outcome.",
		}, []string{"outcome"}),
		stageDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "shipgraph", Name: "deployment_stage_duration_seconds",
			Help:    "Duration of deployment stages run by this instance, by stage and outcome.",
			Buckets: []float64{.01, .1, .5, 1, 2, 5, 10, 30, 60, 120, 300, 600},
		}, []string{"stage", "outcome"}),
		operationNames: NewLabels(MaxOperationNames),
		// Codes come from the server, not the client, but a library may
		// add its own: bound them all the same.
		errorCodes: NewLabels(50),
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "shipgraph", Name: "build_info", Help: "Always 1; its version label says what runs.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	buildInfo.Set(1)
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo,
		m.httpDuration, m.opDuration, m.errors, m.statements, m.batchSize, m.executors,
		m.websockets, m.subscriptions, m.deployments, m.stageDuration,
	)
	return m
}

// Handler serves the metrics in Prometheus' formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry is where the metrics are registered, for collectors added
// elsewhere.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// standardMethods are the methods with a series of their own; clients may
// send any token as a method.
var standardMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true, http.MethodPatch: true,
	http.MethodDelete: true, http.MethodConnect: true, http.MethodOptions: true, http.MethodTrace: true,
}

// ObserveHTTP records a finished HTTP request. route is the pattern that
// matched it ("" for none); never the raw path, which clients choose.
func (m *Metrics) ObserveHTTP(route, method string, status int, d time.Duration) {
	if route == "" {
		route = Unmatched
	} else if _, path, ok := strings.Cut(route, " "); ok {
		route = path // "GET /healthz": the method has its own label
	}
	if !standardMethods[method] {
		method = Other
	}
	m.httpDuration.WithLabelValues(route, method, strconv.Itoa(status/100)+"xx").Observe(d.Seconds())
}

// Operation is a finished GraphQL operation.
type Operation struct {
	Name       string   // "" when anonymous
	Type       string   // query, mutation, subscription; "" when it did not parse or validate
	Codes      []string // the codes of the errors it answered
	Duration   time.Duration
	Statements int64 // SQL statements it sent
}

// ObserveOperation records a finished GraphQL operation.
func (m *Metrics) ObserveOperation(op Operation) {
	name := op.Name
	switch {
	case op.Type == "":
		// The name of an operation that did not parse is whatever the
		// client wrote in operationName.
		name, op.Type = Unknown, Unknown
	case name == "":
		name = Anonymous
	default:
		name = m.operationNames.Get(name)
	}
	m.opDuration.WithLabelValues(name, op.Type, outcome(op.Codes)).Observe(op.Duration.Seconds())
	m.statements.WithLabelValues(op.Type).Observe(float64(op.Statements))
}

// outcome classes an operation by its errors' codes.
func outcome(codes []string) string {
	if len(codes) == 0 {
		return OutcomeOK
	}
	for _, c := range codes {
		if c == string(shipgraph.CodeInternal) || c == string(shipgraph.CodeTimeout) {
			return OutcomeServerError
		}
	}
	return OutcomeClientError
}

// CountErrors counts GraphQL errors by code, one per error.
func (m *Metrics) CountErrors(codes ...string) {
	for _, c := range codes {
		m.errors.WithLabelValues(m.errorCodes.Get(c)).Inc()
	}
}

// ObserveBatch records the size of one batched load; the loaders call it.
func (m *Metrics) ObserveBatch(loader string, size int) {
	m.batchSize.WithLabelValues(loader).Observe(float64(size))
}

// CountExecutor counts an operation of type opType by the executor that
// answered it (see internal/queryexec).
func (m *Metrics) CountExecutor(executor, opType string) {
	m.executors.WithLabelValues(executor, opType).Inc()
}

// WebSocketOpened counts a connection in; WebSocketClosed out.
func (m *Metrics) WebSocketOpened() { m.websockets.Inc() }

// WebSocketClosed counts a connection out.
func (m *Metrics) WebSocketClosed() { m.websockets.Dec() }

// SubscriptionStarted counts a subscription in; SubscriptionEnded out.
func (m *Metrics) SubscriptionStarted() { m.subscriptions.Inc() }

// SubscriptionEnded counts a subscription out.
func (m *Metrics) SubscriptionEnded() { m.subscriptions.Dec() }

// DeploymentFinished implements pipeline.Observer.
func (m *Metrics) DeploymentFinished(status shipgraph.DeploymentStatus) {
	m.deployments.WithLabelValues(strings.ToLower(string(status))).Inc()
}

// StageFinished implements pipeline.Observer.
func (m *Metrics) StageFinished(stage shipgraph.StageName, status shipgraph.StageStatus, d time.Duration) {
	m.stageDuration.WithLabelValues(string(stage), strings.ToLower(string(status))).Observe(d.Seconds())
}
