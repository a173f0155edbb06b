package limits

import (
	"encoding/json"
	"math"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// measure checks an operation against cfg and returns its measures, or the
// error of the first limit it exceeds.
//
// Fields are collected the way execution collects them: merged by response
// key, each fragment followed once per selection set. Counting what runs
// rather than what is written keeps a fragment spread many times from
// costing more than it does, and keeps a document whose fragments spread
// each other twice over (2^n fields on paper, n in execution) from costing
// this walk exponential time. Abstract types are measured as if every one
// of their inline fragments and spreads applied: an upper bound.
func measure(doc *ast.QueryDocument, op *ast.OperationDefinition, vars map[string]any, cfg Config) (*Stats, *gqlerror.Error) {
	// Depth first, with each fragment's depth worked out once: the walk
	// below is bounded by the depth it then knows to be small.
	depth := depthOf(doc, op.SelectionSet, map[string]int{})
	if depth > cfg.MaxDepth {
		return nil, limitError(LimitDepth, cfg.MaxDepth, int64(depth),
			"the operation is %d fields deep, more than the limit of %d", depth, cfg.MaxDepth)
	}
	roots := collect(doc, []ast.SelectionSet{op.SelectionSet})
	if len(roots) > cfg.MaxRootFields {
		return nil, limitError(LimitRootFields, cfg.MaxRootFields, int64(len(roots)),
			"the operation selects %d root fields, more than the limit of %d", len(roots), cfg.MaxRootFields)
	}
	w := walker{doc: doc, vars: vars, cfg: cfg}
	if err := w.fields(roots, 1); err != nil {
		return nil, err
	}
	return &Stats{Depth: depth, RootFields: len(roots), Aliases: w.aliases, Nodes: w.nodes}, nil
}

// depthOf is the number of fields on the longest path down set, leaves
// included. Fragments are measured once (memo); validation has already
// refused fragment cycles, and the memo's placeholder would stop one anyway.
func depthOf(doc *ast.QueryDocument, set ast.SelectionSet, memo map[string]int) int {
	depth := 0
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			d = 1 + depthOf(doc, s.SelectionSet, memo)
		case *ast.InlineFragment:
			d = depthOf(doc, s.SelectionSet, memo)
		case *ast.FragmentSpread:
			var ok bool
			if d, ok = memo[s.Name]; !ok {
				memo[s.Name] = 0
				if def := fragment(doc, s); def != nil {
					d = depthOf(doc, def.SelectionSet, memo)
				}
				memo[s.Name] = d
			}
		}
		depth = max(depth, d)
	}
	return depth
}

// group is one response key of a selection: the fields merged under it and
// the selection sets they bring to the next level.
type group struct {
	field *ast.Field // the first of the merged fields; validation made them agree
	sets  []ast.SelectionSet
}

// collect merges the fields of sets by response key, following inline
// fragments and spreads (each spread once), as execution's CollectFields
// does.
func collect(doc *ast.QueryDocument, sets []ast.SelectionSet) []*group {
	var groups []*group
	byKey := map[string]*group{}
	visited := map[string]bool{}
	var add func(ast.SelectionSet)
	add = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				key := s.Alias
				if key == "" {
					key = s.Name
				}
				g := byKey[key]
				if g == nil {
					g = &group{field: s}
					byKey[key] = g
					groups = append(groups, g)
				}
				if len(s.SelectionSet) > 0 {
					g.sets = append(g.sets, s.SelectionSet)
				}
			case *ast.InlineFragment:
				add(s.SelectionSet)
			case *ast.FragmentSpread:
				if visited[s.Name] {
					continue
				}
				visited[s.Name] = true
				if def := fragment(doc, s); def != nil {
					add(def.SelectionSet)
				}
			}
		}
	}
	for _, set := range sets {
		add(set)
	}
	return groups
}

func fragment(doc *ast.QueryDocument, s *ast.FragmentSpread) *ast.FragmentDefinition {
	if s.Definition != nil {
		return s.Definition
	}
	return doc.Fragments.ForName(s.Name)
}

// walker counts aliases and nodes over the collected fields, and stops at
// the first limit exceeded: past that point the answer is known, and the
// rest of a hostile document is not worth walking.
type walker struct {
	doc     *ast.QueryDocument
	vars    map[string]any
	cfg     Config
	aliases int
	nodes   int64
}

// fields walks groups whose parent may appear up to mult times in the
// response.
func (w *walker) fields(groups []*group, mult int64) *gqlerror.Error {
	for _, g := range groups {
		f := g.field
		if f.Alias != "" && f.Alias != f.Name {
			w.aliases++
			if w.aliases > w.cfg.MaxAliases {
				return limitError(LimitAliases, w.cfg.MaxAliases, -1,
					"the operation uses more than %d aliases, the limit", w.cfg.MaxAliases)
			}
		}
		childMult := mult
		if n, ok := w.listSize(f); ok {
			childMult = mulSat(mult, n)
			w.nodes = addSat(w.nodes, childMult)
			if w.nodes > int64(w.cfg.MaxNodes) || w.nodes == math.MaxInt64 {
				return limitError(LimitNodes, w.cfg.MaxNodes, -1,
					"the operation may return more than %d nodes, the limit; ask for smaller pages (first/last) or fewer nested connections", w.cfg.MaxNodes)
			}
		}
		if len(g.sets) > 0 {
			if err := w.fields(collect(w.doc, g.sets), childMult); err != nil {
				return err
			}
		}
	}
	return nil
}

// listSize is how many objects a field may return for each of its parents,
// when that is set by its arguments: a connection's first or last (its
// default page size when neither is given), or the ids of nodes(ids:).
func (w *walker) listSize(f *ast.Field) (int64, bool) {
	def := f.Definition
	if def == nil {
		return 0, false
	}
	if def.Arguments.ForName("first") != nil || def.Arguments.ForName("last") != nil {
		args := f.ArgumentMap(w.vars)
		n, given := int64(0), false
		for _, name := range []string{"first", "last"} {
			if v, ok := toInt(args[name]); ok {
				n, given = max(n, v), true
			}
		}
		if !given {
			n = shipgraph.DefaultPageSize
		}
		return n, true
	}
	if def.Arguments.ForName("ids") != nil && def.Type.Elem != nil {
		ids, _ := f.ArgumentMap(w.vars)["ids"].([]any)
		return int64(len(ids)), true
	}
	return 0, false
}

// toInt reads an Int argument, whether it came from the document (int64)
// or from the variables (json.Number, or whatever a transport decoded).
func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case float64:
		return int64(n), true
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

// mulSat and addSat saturate instead of overflowing, so that no document
// can wrap its cost around to a small number. Negative sizes count as 0.
func mulSat(a, b int64) int64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}

func addSat(a, b int64) int64 {
	if b > math.MaxInt64-a {
		return math.MaxInt64
	}
	return a + b
}
