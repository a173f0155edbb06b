package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// constraintFields maps a constraint to the input field it guards, so that a
// violation caught by the database still points the client at its input.
var constraintFields = map[string]struct{ field, message string }{
	"test_cases_feature_id_fkey":      {"featureId", "feature does not exist"},
	"builds_feature_id_fkey":          {"featureId", "feature does not exist"},
	"deployments_feature_id_fkey":     {"featureId", "feature does not exist"},
	"deployments_build_id_fkey":       {"buildId", "build does not exist"},
	"deployments_one_active_idx":      {"environment", "the feature already has an active deployment to this environment"},
	"deployments_idempotency_key_key": {"idempotencyKey", "idempotency key already used"},
}

// translate turns a database error into a shipgraph.Error: the one place
// where PostgreSQL's failure modes become API error codes. Errors that are
// already classified pass through.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var se *shipgraph.Error
	if errors.As(err, &se) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &shipgraph.Error{Code: shipgraph.CodeNotFound, Message: "not found", Err: err}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		known := constraintFields[pe.ConstraintName]
		switch pe.Code {
		case "23505": // unique_violation
			return &shipgraph.Error{Code: shipgraph.CodeConflict, Field: known.field, Message: orDefault(known.message, "already exists"), Err: err}
		case "23503": // foreign_key_violation
			return &shipgraph.Error{Code: shipgraph.CodeBadUserInput, Field: known.field, Message: orDefault(known.message, "refers to something that does not exist"), Err: err}
		case "23514", "23502", "22001", "22P02": // check, not null, too long, invalid text
			return &shipgraph.Error{Code: shipgraph.CodeBadUserInput, Field: known.field, Message: orDefault(known.message, "invalid value"), Err: err}
		case "40001", "40P01": // serialization failure, deadlock: retrying may succeed
			return &shipgraph.Error{Code: shipgraph.CodeConflict, Message: "concurrent change, try again", Err: err}
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &shipgraph.Error{Code: shipgraph.CodeInternal, Message: "request cancelled or timed out", Err: err}
	}
	return shipgraph.Internal(err)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
