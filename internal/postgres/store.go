package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// Store implements shipgraph.Store over the pool.
type Store struct {
	db   *DB
	jobs JobHook
}

var _ shipgraph.Store = (*Store)(nil)

// NewStore returns the store of db.
func NewStore(db *DB) *Store { return &Store{db: db} }

// inTx runs fn in a transaction, committed when fn returns nil and rolled
// back otherwise, so that a failed mutation leaves nothing half-written.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return translate(pgx.BeginFunc(ctx, s.db.Pool, fn))
}

// staleVersion is the conflict of an update whose expectedVersion is not
// the row's version: someone changed it since the client read it.
func staleVersion(what string, current, expected int) error {
	return &shipgraph.Error{Code: shipgraph.CodeConflict, Field: "expectedVersion",
		Message: fmt.Sprintf("%s was changed by someone else: it is at version %d, not %d", what, current, expected)}
}

// checkVersion turns "no row updated" into the right error: the row is gone
// (NOT_FOUND) or someone changed it first (CONFLICT).
func checkVersion(ctx context.Context, q querier, tbl, what string, id int64, expected *int) error {
	var current int
	err := q.QueryRow(ctx, "SELECT version FROM "+tbl+" WHERE id = $1", id).Scan(&current)
	if err == pgx.ErrNoRows {
		return shipgraph.Errorf(shipgraph.CodeNotFound, "%s not found", what)
	}
	if err != nil {
		return translate(err)
	}
	if expected != nil && *expected != current {
		return staleVersion(what, current, *expected)
	}
	// The row reappeared or changed between the two statements.
	return shipgraph.Errorf(shipgraph.CodeConflict, "%s changed concurrently, try again", what)
}
