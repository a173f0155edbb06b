package shipgraph_test

import (
	"errors"
	"testing"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// requireInvalid asserts that err is a *shipgraph.Error with code
// BAD_USER_INPUT that points at field, and returns it.
func requireInvalid(t *testing.T, err error, field string) *shipgraph.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want BAD_USER_INPUT on field %q", field)
	}
	var e *shipgraph.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T (%v), want *shipgraph.Error", err, err)
	}
	if e.Code != shipgraph.CodeBadUserInput {
		t.Errorf("code = %s, want %s (%v)", e.Code, shipgraph.CodeBadUserInput, err)
	}
	if e.Field != field {
		t.Errorf("field = %q, want %q (%v)", e.Field, field, err)
	}
	if e.Message == "" {
		t.Errorf("empty client message (%v)", err)
	}
	if got := shipgraph.ErrorCode(err); got != shipgraph.CodeBadUserInput {
		t.Errorf("ErrorCode = %s, want %s", got, shipgraph.CodeBadUserInput)
	}
	return e
}

// requireValid fails the test when err is not nil.
func requireValid(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// check asserts err is nil when field is "", else that it is a
// BAD_USER_INPUT error on field.
func check(t *testing.T, err error, field string) {
	t.Helper()
	if field == "" {
		requireValid(t, err)
		return
	}
	requireInvalid(t, err, field)
}

func ptr[T any](v T) *T { return &v }
