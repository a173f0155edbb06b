package shipgraph_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

func TestErrorCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want shipgraph.Code
	}{
		{"plain error is internal", errors.New("boom"), shipgraph.CodeInternal},
		{"context error is internal", context.DeadlineExceeded, shipgraph.CodeInternal},
		{"Error reports its code", shipgraph.Errorf(shipgraph.CodeNotFound, "no feature %d", 3), shipgraph.CodeNotFound},
		{"wrapped Error reports its code", fmt.Errorf("loading: %w", shipgraph.Errorf(shipgraph.CodeConflict, "stale")), shipgraph.CodeConflict},
		{"joined Error reports its code", errors.Join(io.EOF, shipgraph.InvalidField("name", "bad")), shipgraph.CodeBadUserInput},
		{"Internal is internal", shipgraph.Internal(io.EOF), shipgraph.CodeInternal},
		{"nil error is internal", nil, shipgraph.CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := shipgraph.ErrorCode(tt.err); got != tt.want {
				t.Errorf("ErrorCode(%v) = %s, want %s", tt.err, got, tt.want)
			}
		})
	}
}

func TestInternalHidesCause(t *testing.T) {
	t.Parallel()
	cause := fmt.Errorf("dial tcp 10.0.0.5:5432: password authentication failed for user %q", "shipgraph")
	err := shipgraph.Internal(cause)

	t.Run("client message is generic", func(t *testing.T) {
		t.Parallel()
		if strings.Contains(err.Message, "5432") || strings.Contains(err.Message, "password") || strings.Contains(err.Message, "shipgraph") {
			t.Errorf("Message %q leaks the cause", err.Message)
		}
		if err.Message == "" || err.Code != shipgraph.CodeInternal || err.Field != "" {
			t.Errorf("got %+v", err)
		}
	})
	t.Run("cause reachable with errors.Is and Unwrap", func(t *testing.T) {
		t.Parallel()
		if !errors.Is(err, cause) {
			t.Error("errors.Is(Internal(cause), cause) = false")
		}
		if errors.Unwrap(err) != cause {
			t.Error("Unwrap does not return the cause")
		}
		wrapped := fmt.Errorf("resolver: %w", err)
		if !errors.Is(wrapped, cause) {
			t.Error("cause not reachable through a further wrap")
		}
	})
	t.Run("log text includes the cause", func(t *testing.T) {
		t.Parallel()
		if !strings.Contains(err.Error(), cause.Error()) {
			t.Errorf("Error() = %q, want it to include the cause", err.Error())
		}
	})
	t.Run("sentinel cause matches", func(t *testing.T) {
		t.Parallel()
		if !errors.Is(shipgraph.Internal(context.Canceled), context.Canceled) {
			t.Error("errors.Is(Internal(context.Canceled), context.Canceled) = false")
		}
	})
}

func TestInvalidField(t *testing.T) {
	t.Parallel()
	err := shipgraph.InvalidField("name", "%s must be at least %d characters", "name", 2)
	if err.Code != shipgraph.CodeBadUserInput || err.Field != "name" || err.Message != "name must be at least 2 characters" || err.Err != nil {
		t.Errorf("got %+v", err)
	}
	if got, want := err.Error(), "BAD_USER_INPUT: name must be at least 2 characters (field name)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if errors.Unwrap(err) != nil {
		t.Error("InvalidField has a cause")
	}
}

func TestErrorf(t *testing.T) {
	t.Parallel()
	err := shipgraph.Errorf(shipgraph.CodeRateLimited, "slow down, retry in %ds", 3)
	if err.Code != shipgraph.CodeRateLimited || err.Message != "slow down, retry in 3s" || err.Field != "" {
		t.Errorf("got %+v", err)
	}
	if got, want := err.Error(), "RATE_LIMITED: slow down, retry in 3s"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestCodesAreAPIContract(t *testing.T) {
	t.Parallel()
	for code, want := range map[shipgraph.Code]string{
		shipgraph.CodeBadUserInput:    "BAD_USER_INPUT",
		shipgraph.CodeUnauthenticated: "UNAUTHENTICATED",
		shipgraph.CodeForbidden:       "FORBIDDEN",
		shipgraph.CodeNotFound:        "NOT_FOUND",
		shipgraph.CodeConflict:        "CONFLICT",
		shipgraph.CodeRateLimited:     "RATE_LIMITED",
		shipgraph.CodeInternal:        "INTERNAL_SERVER_ERROR",

		shipgraph.CodePersistedQueryNotFound:   "PERSISTED_QUERY_NOT_FOUND",
		shipgraph.CodePersistedQueryNotAllowed: "PERSISTED_QUERY_NOT_ALLOWED",
	} {
		if string(code) != want {
			t.Errorf("code %q, want %q", code, want)
		}
	}
}
