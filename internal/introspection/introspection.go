// Package introspection controls what a client can learn about the schema
// without being given it: introspection queries (__schema, __type) and the
// "Did you mean …?" suggestions of validation errors, which reveal field,
// argument, type and enum value names one typo at a time even when
// introspection is off. Both are on by default (GraphiQL and code
// generators need introspection); a production API whose schema is private
// turns them off.
package introspection

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// Refuse is a gqlgen extension that refuses, before execution, any
// operation that selects __schema or __type, with a validation error that
// says introspection is disabled. Without it gqlgen (with its Introspection
// extension left out) would run the operation and fail the field with a
// plain error, which the API would have to present as an internal one.
// __typename stays allowed: clients add it everywhere to tell types apart.
type Refuse struct{}

var (
	_ graphql.HandlerExtension        = Refuse{}
	_ graphql.OperationContextMutator = Refuse{}
)

// ErrDisabled is the message of the error that refuses introspection.
const ErrDisabled = "introspection is disabled on this server"

// ExtensionName implements graphql.HandlerExtension.
func (Refuse) ExtensionName() string { return "RefuseIntrospection" }

// Validate implements graphql.HandlerExtension.
func (Refuse) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationContext implements graphql.OperationContextMutator: it
// runs after validation, when the operation and its fragments are known.
func (Refuse) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if pos := introspects(oc.Operation.SelectionSet, oc.Doc, map[string]bool{}); pos != nil {
		err := gqlerror.ErrorPosf(pos, ErrDisabled)
		errcode.Set(err, errcode.ValidationFailed)
		return err
	}
	return nil
}

// introspects returns the position of the first __schema or __type field in
// set, following fragments, or nil.
func introspects(set ast.SelectionSet, doc *ast.QueryDocument, seen map[string]bool) *ast.Position {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" {
				return s.Position
			}
			if pos := introspects(s.SelectionSet, doc, seen); pos != nil {
				return pos
			}
		case *ast.InlineFragment:
			if pos := introspects(s.SelectionSet, doc, seen); pos != nil {
				return pos
			}
		case *ast.FragmentSpread:
			if seen[s.Name] {
				continue
			}
			seen[s.Name] = true
			def := s.Definition
			if def == nil && doc != nil {
				def = doc.Fragments.ForName(s.Name)
			}
			if def != nil {
				if pos := introspects(def.SelectionSet, doc, seen); pos != nil {
					return pos
				}
			}
		}
	}
	return nil
}

// withSuggestions names the validation rules that append suggestions, and
// their counterparts that do not. gqlgen's SetDisableSuggestion swaps only
// the first two; the others would still answer `filter: {statu: DRAFT}`
// with `Did you mean "status"?`.
var withSuggestions = []struct{ with, without core.Rule }{
	{rules.FieldsOnCorrectTypeRule, rules.FieldsOnCorrectTypeRuleWithoutSuggestions},
	{rules.ScalarLeafsRule, rules.ScalarLeafsRuleWithoutSuggestions},
	{rules.KnownArgumentNamesRule, rules.KnownArgumentNamesRuleWithoutSuggestions},
	{rules.KnownTypeNamesRule, rules.KnownTypeNamesRuleWithoutSuggestions},
	{rules.ValuesOfCorrectTypeRule, rules.ValuesOfCorrectTypeRuleWithoutSuggestions},
}

// WithoutSuggestions swaps the validation rules of r that suggest names for
// their silent versions, and returns r. Use it with gqlgen's
// SetValidationRulesFn (and SetDisableSuggestion(true), so that gqlgen does
// not swap its two back):
//
//	srv.SetDisableSuggestion(true)
//	srv.SetValidationRulesFn(func() *rules.Rules {
//		return introspection.WithoutSuggestions(rules.NewDefaultRules())
//	})
func WithoutSuggestions(r *rules.Rules) *rules.Rules {
	inner := r.GetInner()
	for _, s := range withSuggestions {
		if _, ok := inner[s.with.Name]; ok {
			r.RemoveRule(s.with.Name)
			r.AddRule(s.without.Name, s.without.RuleFunc)
		}
	}
	return r
}
