// Package loaders batches the reads of one GraphQL response, so that a
// nested query costs one statement per level whatever the number of
// parents.
//
// Relations are batched by siblings (see siblings.go): the objects one
// statement loaded have their relations loaded together, as soon as the
// first of them asks. Lookups by id from the root (node, nodes, feature,
// …) go through graph-gophers dataloaders, which gather the ids asked for
// within a short window.
//
// Loaders are created per response (see Extension) and never shared across
// requests or users: their cache is only valid for one consistent read.
package loaders

import (
	"context"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/graph-gophers/dataloader/v7"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// Options tune batching.
type Options struct {
	// Wait is how long a by-id dataloader collects ids before its batch
	// runs. dataloader's default (16 ms) would add that much latency to
	// every lookup; the resolvers of nodes(ids:) all ask within
	// microseconds of each other.
	Wait time.Duration
	// MaxBatch caps the ids of one statement; a larger batch is split.
	MaxBatch int
	// OnBatch, when set, is told the size of every batched load, by
	// loader (a relation such as "builds", or an entity kind looked up by
	// id such as "Feature"): the metrics' view of how well batching works.
	OnBatch func(loader string, size int)
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
	store shipgraph.Store
	sib   *siblings

	feature    *dataloader.Loader[int64, *shipgraph.Feature]
	testCase   *dataloader.Loader[int64, *shipgraph.TestCase]
	build      *dataloader.Loader[int64, *shipgraph.Build]
	deployment *dataloader.Loader[int64, *shipgraph.Deployment]
	event      *dataloader.Loader[int64, *shipgraph.DeploymentEvent]

	// Batch lookups by id whose results become a family of siblings,
	// for the dataloaders above and the relations that lead to one
	// entity (a build's feature…): the features of 20 deployments are
	// then siblings, and their own relations load together.
	featuresByID    func(context.Context, []int64) ([]*shipgraph.Feature, error)
	buildsByID      func(context.Context, []int64) ([]*shipgraph.Build, error)
	deploymentsByID func(context.Context, []int64) ([]*shipgraph.Deployment, error)
}

// New returns fresh loaders over store.
func New(store shipgraph.Store, o Options) *Loaders {
	o = o.withDefaults()
	l := &Loaders{store: store, sib: newSiblings(o.OnBatch)}
	l.featuresByID = siblingsOf(l, kindFeature, store.FeaturesByID, (*shipgraph.Feature).Key)
	l.buildsByID = siblingsOf(l, kindBuild, store.BuildsByID, (*shipgraph.Build).Key)
	l.deploymentsByID = siblingsOf(l, kindDeployment, store.DeploymentsByID, (*shipgraph.Deployment).Key)
	l.feature = newLoader(o, kindFeature, l.featuresByID)
	l.testCase = newLoader(o, kindTestCase, siblingsOf(l, kindTestCase, store.TestCasesByID, (*shipgraph.TestCase).Key))
	l.build = newLoader(o, kindBuild, l.buildsByID)
	l.deployment = newLoader(o, kindDeployment, l.deploymentsByID)
	l.event = newLoader(o, kindEvent, siblingsOf(l, kindEvent, store.EventsByID, (*shipgraph.DeploymentEvent).Key))
	return l
}

// siblingsOf makes the entities of one by-id batch (nodes(ids:), say)
// siblings, so that their relations batch too.
func siblingsOf[T any](l *Loaders, kind string, fetch func(context.Context, []int64) ([]*T, error), id func(*T) int64) func(context.Context, []int64) ([]*T, error) {
	return func(ctx context.Context, ids []int64) ([]*T, error) {
		items, err := fetch(ctx, ids)
		if err != nil {
			return nil, err
		}
		found := make([]*T, 0, len(items))
		for _, it := range items {
			if it != nil {
				found = append(found, it)
			}
		}
		remember(l.sib, kind, found, id)
		adopt(l.sib, found)
		return items, nil
	}
}

// newLoader adapts a batch method (results in key order) to a dataloader.
func newLoader[K comparable, V any](o Options, kind string, fetch func(context.Context, []K) ([]V, error)) *dataloader.Loader[K, V] {
	return dataloader.NewBatchedLoader(func(ctx context.Context, keys []K) []*dataloader.Result[V] {
		if o.OnBatch != nil {
			o.OnBatch(kind, len(keys))
		}
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

type ctxKey struct{}

// With returns ctx carrying l.
func With(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// withLazy returns ctx carrying loaders made the first time a resolver
// asks for them. A subscription waits for its next event inside
// InterceptResponse: eager loaders (five dataloaders, about 3 KB) would be
// held by every idle subscription, and most events need none.
func withLazy(ctx context.Context, store shipgraph.Store, o Options) context.Context {
	return context.WithValue(ctx, ctxKey{}, sync.OnceValue(func() *Loaders { return New(store, o) }))
}

// from returns the loaders of the current response.
func from(ctx context.Context) *Loaders {
	switch l := ctx.Value(ctxKey{}).(type) {
	case *Loaders:
		return l
	case func() *Loaders:
		return l()
	}
	// A resolver ran outside Extension: a wiring bug, not user input.
	panic("loaders: no loaders in context; add loaders.Extension to the GraphQL handler")
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
	_ graphql.HandlerExtension     = Extension{}
	_ graphql.ResponseInterceptor  = Extension{}
	_ graphql.RootFieldInterceptor = Extension{}
)

// ExtensionName implements graphql.HandlerExtension.
func (Extension) ExtensionName() string { return "Loaders" }

// Validate implements graphql.HandlerExtension.
func (Extension) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptResponse implements graphql.ResponseInterceptor.
func (e Extension) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	return next(withLazy(ctx, e.Store, e.Options))
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
