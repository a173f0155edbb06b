package loaders

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
)

// Sibling batching: the objects one statement loaded are siblings (the
// features of a page, the builds of all those features, ...). When a
// resolver asks for a relation of one of them, the relation is loaded for
// all its siblings at once, with one statement, and the others find their
// answer cached. A level is dispatched as soon as its first resolver asks,
// because its siblings are already known: no batch window to wait for, and
// the statement count of a query does not depend on timing.

// family is a set of siblings: a []*T of the objects one statement loaded.
type family struct {
	members any
}

// group identifies one load for a family: the relation (kind) and its
// arguments, named by the key of the family's first member.
type group struct {
	kind   string
	family *family
	first  any
}

// call is a group load in flight; waiters block on done.
type call struct {
	done chan struct{}
	err  error
}

// siblings is the per-response state of sibling batching.
type siblings struct {
	mu       sync.Mutex
	families map[any]*family // member pointer → its family
	// results holds, by kind, a map[K]R from a parent's key to its
	// result (see resultsOf): typed, so that a key (a query of a hundred
	// bytes) is neither boxed nor hashed as an interface on every lookup.
	results map[string]any
	// unindexed holds, by kind, entities remember has not put in results
	// yet (see remember).
	unindexed map[string][]func()
	calls     map[group]*call
	onBatch   func(loader string, size int) // Options.OnBatch; may be nil

	internMu sync.Mutex     // not mu: keys are made while mu is held
	interned map[string]any // kind → map[Q]int32 (see intern)
}

// rootParent is the one parent of root fields, so that identical root
// fields (aliases) share one load.
var rootParent = &struct{}{}

func newSiblings(onBatch func(string, int)) *siblings {
	return &siblings{
		onBatch:   onBatch,
		families:  map[any]*family{rootParent: {members: []*struct{}{rootParent}}},
		results:   map[string]any{},
		unindexed: map[string][]func(){},
		calls:     map[group]*call{},
		interned:  map[string]any{},
	}
}

// argsKey is one parent's key of a paginated relation: its arguments,
// interned as a number, and the parent's id. The query itself (a hundred
// bytes with strings) was the key before, and hashing it five times per
// parent was most of the loaders' own cost.
type argsKey struct {
	args   int32
	parent int64
}

// intern returns the number of args among the arguments relation kind was
// asked with in this response.
func intern[Q comparable](s *siblings, kind string, args Q) int32 {
	s.internMu.Lock()
	defer s.internMu.Unlock()
	m, ok := s.interned[kind].(map[Q]int32)
	if !ok {
		m = map[Q]int32{}
		s.interned[kind] = m
	}
	n, ok := m[args]
	if !ok {
		n = int32(len(m))
		m[args] = n
	}
	return n
}

// remember caches entities by id under kind, so that following a relation
// to one of them costs nothing. Lazily: the entities are indexed the first
// time anything of kind is looked up, because most responses never follow
// a relation back by id, and indexing 1,300 objects cost 1,300 map inserts
// (and as many boxed int64 keys) per response.
func remember[T any](s *siblings, kind string, items []*T, id func(*T) int64) {
	if len(items) == 0 {
		return
	}
	s.mu.Lock()
	s.unindexed[kind] = append(s.unindexed[kind], func() {
		byID := resultsOf[int64, *T](s, kind)
		for _, it := range items {
			// The first copy loaded stays the one found by id (a row
			// reached by two paths is loaded twice), so that what is
			// found by id belongs to the earliest family, whatever
			// loaded since: its relations then load with that family's.
			if _, ok := byID[id(it)]; !ok {
				byID[id(it)] = it
			}
		}
	})
	s.mu.Unlock()
}

// indexLocked indexes what remember recorded under kind; s.mu is held.
func (s *siblings) indexLocked(kind string) {
	if pending := s.unindexed[kind]; len(pending) > 0 {
		delete(s.unindexed, kind)
		for _, index := range pending {
			index()
		}
	}
}

// resultsOf returns the results of kind; s.mu is held. A kind has one
// key and result type (entity kinds: int64 and *T).
func resultsOf[K comparable, R any](s *siblings, kind string) map[K]R {
	v, ok := s.results[kind]
	if !ok {
		m := map[K]R{}
		s.results[kind] = m
		return m
	}
	if m, ok := v.(map[K]R); ok {
		return m
	}
	panic("loaders: " + kind + " used with two key or result types")
}

// adopt records that members were loaded together.
func adopt[T any](s *siblings, members []*T) {
	if len(members) == 0 {
		return
	}
	f := &family{members: members}
	s.mu.Lock()
	for _, m := range members {
		s.families[m] = f
	}
	s.mu.Unlock()
}

// familyOf returns parent's siblings (itself included), or parent alone
// when it was not loaded by a page (a node(id) lookup, say).
func familyOf[T any](s *siblings, parent *T) (*family, []*T) {
	s.mu.Lock()
	f := s.families[parent]
	s.mu.Unlock()
	if f == nil {
		return &family{members: []*T{parent}}, []*T{parent}
	}
	return f, f.members.([]*T)
}

// load returns the result of relation kind for parent, loading it for all
// of parent's siblings with one call to fetch. key gives a parent's cache
// key (its query); fetch answers many keys, in order.
func load[P any, K comparable, R any](ctx context.Context, s *siblings, kind string, parent *P,
	key func(*P) K, fetch func(ctx context.Context, keys []K) ([]R, error)) (R, error) {
	var zero R
	own := key(parent)
	s.mu.Lock()
	s.indexLocked(kind)
	if r, ok := resultsOf[K, R](s, kind)[own]; ok {
		s.mu.Unlock()
		return r, nil
	}
	s.mu.Unlock()

	fam, members := familyOf(s, parent)
	g := group{kind: kind, family: fam, first: key(members[0])}
	s.mu.Lock()
	c, running := s.calls[g]
	if !running {
		c = &call{done: make(chan struct{})}
		s.calls[g] = c
	}
	s.mu.Unlock()

	if !running {
		c.err = fetchGuarded(ctx, s, kind, members, key, fetch)
		close(c.done)
	} else {
		select {
		case <-c.done:
		case <-ctx.Done():
			return zero, ctx.Err()
		}
	}
	if c.err != nil {
		return zero, c.err
	}
	s.mu.Lock()
	s.indexLocked(kind)
	r, ok := resultsOf[K, R](s, kind)[own]
	s.mu.Unlock()
	if !ok {
		// parent joined its family after the family's load ran; load
		// it on its own.
		rs, err := fetch(ctx, []K{own})
		if err != nil {
			return zero, err
		}
		s.mu.Lock()
		resultsOf[K, R](s, kind)[own] = rs[0]
		s.mu.Unlock()
		return rs[0], nil
	}
	return r, nil
}

// fetchGuarded is fetchAll with a panic turned into the load's error: the
// load must end either way, or every resolver waiting for it (and gqlgen's
// second pass over the same loaders, see internal/queryexec) would wait
// until the request times out.
func fetchGuarded[P any, K comparable, R any](ctx context.Context, s *siblings, kind string, members []*P,
	key func(*P) K, fetch func(ctx context.Context, keys []K) ([]R, error)) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("loaders: %s: panic: %v\n%s", kind, p, debug.Stack())
		}
	}()
	return fetchAll(ctx, s, kind, members, key, fetch)
}

// fetchAll loads kind for every member not answered yet, with one call.
func fetchAll[P any, K comparable, R any](ctx context.Context, s *siblings, kind string, members []*P,
	key func(*P) K, fetch func(ctx context.Context, keys []K) ([]R, error)) error {
	seen := make(map[K]bool, len(members))
	keys := make([]K, 0, len(members))
	s.mu.Lock()
	s.indexLocked(kind)
	results := resultsOf[K, R](s, kind)
	for _, m := range members {
		k := key(m)
		if _, done := results[k]; !done && !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	s.mu.Unlock()
	if len(keys) == 0 {
		return nil
	}
	if s.onBatch != nil {
		s.onBatch(kind, len(keys))
	}
	rs, err := fetch(ctx, keys)
	if err != nil {
		return err
	}
	s.mu.Lock()
	results = resultsOf[K, R](s, kind)
	for i, k := range keys {
		results[k] = rs[i]
	}
	s.mu.Unlock()
	return nil
}

// once returns the cached result of key, computing it at most once per
// response even when asked concurrently (root fields, repeated aliases).
func once[K comparable, R any](ctx context.Context, s *siblings, kind string, key K, fetch func(context.Context, K) (R, error)) (R, error) {
	return load(ctx, s, kind, rootParent, func(*struct{}) K { return key }, func(ctx context.Context, keys []K) ([]R, error) {
		r, err := fetch(ctx, keys[0])
		return []R{r}, err
	})
}
