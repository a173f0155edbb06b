// Package loaders batches the reads of one GraphQL response: every relation
// a resolver follows goes through a dataloader, so a nested query costs one
// statement per level, whatever the number of parents.
//
// Loaders are created per response (see Extension) and never shared across
// requests or users: their cache is only valid for one consistent read.
package loaders

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/graph-gophers/dataloader/v7"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// Options tune batching.
type Options struct {
	// Wait is how long a loader collects keys before it runs its batch.
	// dataloader's default (16 ms) would add that much latency to every
	// level of a nested query; resolvers of one level all ask within
	// microseconds of each other.
	Wait time.Duration
	// MaxBatch caps the keys of one statement; a larger batch is split.
	MaxBatch int
}

func (o Options) withDefaults() Options {
	if o.Wait <= 0 {
		o.Wait = 500 * time.Microsecond
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1000
	}
	return o
}

// Loaders holds one response's loaders.
type Loaders struct {
	feature    *dataloader.Loader[int64, *shipgraph.Feature]
	testCase   *dataloader.Loader[int64, *shipgraph.TestCase]
	build      *dataloader.Loader[int64, *shipgraph.Build]
	deployment *dataloader.Loader[int64, *shipgraph.Deployment]
	event      *dataloader.Loader[int64, *shipgraph.DeploymentEvent]

	featurePage  *dataloader.Loader[shipgraph.FeatureQuery, shipgraph.Page[*shipgraph.Feature]]
	featureCount *dataloader.Loader[shipgraph.FeatureFilter, int]

	testCasePage  *dataloader.Loader[shipgraph.TestCaseQuery, shipgraph.Page[*shipgraph.TestCase]]
	testCaseCount *dataloader.Loader[shipgraph.TestCaseQuery, int]

	buildPage  *dataloader.Loader[shipgraph.BuildQuery, shipgraph.Page[*shipgraph.Build]]
	buildCount *dataloader.Loader[shipgraph.BuildQuery, int]

	deploymentPage  *dataloader.Loader[shipgraph.DeploymentQuery, shipgraph.Page[*shipgraph.Deployment]]
	deploymentCount *dataloader.Loader[shipgraph.DeploymentQuery, int]

	eventPage  *dataloader.Loader[shipgraph.EventQuery, shipgraph.Page[*shipgraph.DeploymentEvent]]
	eventCount *dataloader.Loader[shipgraph.EventQuery, int]
}

// New returns fresh loaders over store.
func New(store shipgraph.Store, o Options) *Loaders {
	o = o.withDefaults()
	l := &Loaders{
		feature:    newLoader(o, store.FeaturesByID),
		testCase:   newLoader(o, store.TestCasesByID),
		build:      newLoader(o, store.BuildsByID),
		deployment: newLoader(o, store.DeploymentsByID),
		event:      newLoader(o, store.EventsByID),
	}
	// Every entity a page brings is primed into its by-id loader, so that
	// following a relation back to it (deployment.build, say) costs nothing.
	// Root listings have one key per field: waiting for more would only add
	// latency (repeated keys are served from the loader's cache anyway).
	root := o
	root.Wait = time.Nanosecond
	l.featurePage = newLoader(root, priming(each(store.ListFeatures), l.feature, (*shipgraph.Feature).Key))
	l.featureCount = newLoader(root, each(store.CountFeatures))
	l.testCasePage = newLoader(o, priming(store.ListTestCases, l.testCase, (*shipgraph.TestCase).Key))
	l.testCaseCount = newLoader(o, store.CountTestCases)
	l.buildPage = newLoader(o, priming(store.ListBuilds, l.build, (*shipgraph.Build).Key))
	l.buildCount = newLoader(o, store.CountBuilds)
	l.deploymentPage = newLoader(o, priming(store.ListDeployments, l.deployment, (*shipgraph.Deployment).Key))
	l.deploymentCount = newLoader(o, store.CountDeployments)
	l.eventPage = newLoader(o, priming(store.ListEvents, l.event, (*shipgraph.DeploymentEvent).Key))
	l.eventCount = newLoader(o, store.CountEvents)
	return l
}

// priming wraps a page fetch so that it primes the entities' by-id loader.
func priming[Q any, T any](fetch func(context.Context, []Q) ([]shipgraph.Page[*T], error),
	byID *dataloader.Loader[int64, *T], key func(*T) int64) func(context.Context, []Q) ([]shipgraph.Page[*T], error) {
	return func(ctx context.Context, qs []Q) ([]shipgraph.Page[*T], error) {
		pages, err := fetch(ctx, qs)
		for _, p := range pages {
			for _, it := range p.Items {
				byID.Prime(ctx, key(it), it)
			}
		}
		return pages, err
	}
}

// newLoader adapts a batch method (results in key order) to a dataloader.
func newLoader[K comparable, V any](o Options, fetch func(context.Context, []K) ([]V, error)) *dataloader.Loader[K, V] {
	return dataloader.NewBatchedLoader(func(ctx context.Context, keys []K) []*dataloader.Result[V] {
		values, err := fetch(ctx, keys)
		results := make([]*dataloader.Result[V], len(keys))
		for i := range keys {
			if err != nil {
				results[i] = &dataloader.Result[V]{Error: err}
			} else {
				results[i] = &dataloader.Result[V]{Data: values[i]}
			}
		}
		return results
	},
		dataloader.WithWait[K, V](o.Wait),
		dataloader.WithBatchCapacity[K, V](o.MaxBatch),
	)
}

// each adapts a single-key method to a batch one. Root listings take one
// statement each anyway; going through a loader still de-duplicates the
// edges, nodes and pageInfo of one connection into one statement.
func each[K, V any](fetch func(context.Context, K) (V, error)) func(context.Context, []K) ([]V, error) {
	return func(ctx context.Context, keys []K) ([]V, error) {
		out := make([]V, len(keys))
		for i, k := range keys {
			v, err := fetch(ctx, k)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
}

type ctxKey struct{}

// With returns ctx carrying l.
func With(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// from returns the loaders of the current response.
func from(ctx context.Context) *Loaders {
	l, ok := ctx.Value(ctxKey{}).(*Loaders)
	if !ok {
		// A resolver ran outside Extension: a wiring bug, not user input.
		panic("loaders: no loaders in context; add loaders.Extension to the GraphQL handler")
	}
	return l
}

// Extension is a gqlgen handler extension that gives every response its own
// loaders. Per response rather than per HTTP request: a subscription gets
// fresh loaders for each event instead of a cache that goes stale over the
// life of its connection.
type Extension struct {
	Store   shipgraph.Store
	Options Options
}

var (
	_ graphql.HandlerExtension    = Extension{}
	_ graphql.ResponseInterceptor = Extension{}
)

// ExtensionName implements graphql.HandlerExtension.
func (Extension) ExtensionName() string { return "Loaders" }

// Validate implements graphql.HandlerExtension.
func (Extension) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptResponse implements graphql.ResponseInterceptor.
func (e Extension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	return next(With(ctx, New(e.Store, e.Options)))
}

// InterceptRootField implements graphql.RootFieldInterceptor. The fields of
// a mutation run one after another and each must see what the ones before
// it wrote, so each gets loaders of its own; the fields of a query share
// theirs, to batch across them.
func (e Extension) InterceptRootField(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	if op := graphql.GetOperationContext(ctx).Operation; op != nil && op.Operation == ast.Mutation {
		ctx = With(ctx, New(e.Store, e.Options))
	}
	return next(ctx)
}
