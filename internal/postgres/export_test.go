package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// ScanPair is every row of one entity table, read once with its
// hand-written scanner and once with pgx's by-name scan.
type ScanPair struct {
	Table          string
	ByHand, ByName any
}

// ScanBothWays reads feature fid and everything under it both ways, for
// TestScannersMatchByName.
func ScanBothWays(ctx context.Context, tx pgx.Tx, fid int64) ([]ScanPair, error) {
	const (
		byID      = " WHERE id = $1"
		byFeature = " WHERE feature_id = $1"
		byParent  = " WHERE deployment_id IN (SELECT id FROM deployments WHERE feature_id = $1)"
	)
	var out []ScanPair
	for _, f := range []func() (ScanPair, error){
		func() (ScanPair, error) { return scanBothWays(ctx, tx, features, byID, fid, scanFeature) },
		func() (ScanPair, error) { return scanBothWays(ctx, tx, testCases, byFeature, fid, scanTestCase) },
		func() (ScanPair, error) { return scanBothWays(ctx, tx, builds, byFeature, fid, scanBuild) },
		func() (ScanPair, error) { return scanBothWays(ctx, tx, deployments, byFeature, fid, scanDeployment) },
		func() (ScanPair, error) { return scanBothWays(ctx, tx, events, byParent, fid, scanEvent) },
	} {
		p, err := f()
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func scanBothWays[T any](ctx context.Context, tx pgx.Tx, t table, where string, fid int64, byHand pgx.RowToFunc[*T]) (ScanPair, error) {
	p := ScanPair{Table: t.name}
	sql := "SELECT " + t.columns + " FROM " + t.name + where + " ORDER BY id"
	rows, _ := tx.Query(ctx, sql, fid)
	hand, err := pgx.CollectRows(rows, byHand)
	if err != nil {
		return p, err
	}
	rows, _ = tx.Query(ctx, sql, fid)
	name, err := pgx.CollectRows(rows, pgx.RowToAddrOfStructByName[T])
	if err != nil {
		return p, err
	}
	// The generic path must pick the hand-written scanner.
	rows, _ = tx.Query(ctx, sql, fid)
	if _, err := pgx.CollectRows(rows, scanner[T]()); err != nil {
		return p, err
	}
	p.ByHand, p.ByName = hand, name
	return p, nil
}
