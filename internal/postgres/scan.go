package postgres

import (
	"github.com/jackc/pgx/v5"

	"github.com/shipgraph/shipgraph/internal/shipgraph"
)

// Hand-written row scans of the entity tables. pgx.RowToAddrOfStructByName
// matches columns to db tags with reflection on every row, which showed as
// about 7% of a nested read's CPU (1,300 rows per response); these scan by
// position into the fields directly. Each reads the columns of its table's
// `columns` list, in that order, and TestScannersMatchByName holds them to
// the by-name scan. Status types are scanned through *string: pgx then takes
// its plain text plan instead of wrapping the named type.

func scanFeature(row pgx.CollectableRow) (*shipgraph.Feature, error) {
	f := new(shipgraph.Feature)
	err := row.Scan(&f.ID, &f.Name, &f.Description, &f.ComplexityPoints, (*string)(&f.Status),
		&f.Version, &f.CreatedAt, &f.UpdatedAt)
	return f, err
}

func scanTestCase(row pgx.CollectableRow) (*shipgraph.TestCase, error) {
	t := new(shipgraph.TestCase)
	err := row.Scan(&t.ID, &t.FeatureID, &t.Title, &t.Steps, &t.ExpectedResult, (*string)(&t.Status),
		&t.Version, &t.CreatedAt, &t.UpdatedAt)
	return t, err
}

func scanBuild(row pgx.CollectableRow) (*shipgraph.Build, error) {
	b := new(shipgraph.Build)
	err := row.Scan(&b.ID, &b.FeatureID, &b.Number, &b.CommitSHA, &b.Branch, (*string)(&b.Status),
		&b.StartedAt, &b.FinishedAt, &b.Version, &b.CreatedAt, &b.UpdatedAt)
	return b, err
}

func scanDeployment(row pgx.CollectableRow) (*shipgraph.Deployment, error) {
	d := new(shipgraph.Deployment)
	err := row.Scan(&d.ID, &d.BuildID, &d.FeatureID, &d.Environment, (*string)(&d.Status), &d.Progress,
		&d.StagesJSON, &d.Error, &d.StartedAt, &d.FinishedAt, &d.Version, &d.CreatedAt, &d.UpdatedAt)
	return d, err
}

func scanEvent(row pgx.CollectableRow) (*shipgraph.DeploymentEvent, error) {
	e := new(shipgraph.DeploymentEvent)
	err := row.Scan(&e.ID, &e.DeploymentID, &e.Sequence, &e.Stage, &e.StageStatus, (*string)(&e.Status),
		&e.Progress, &e.Message, &e.OccurredAt)
	return e, err
}

// scanner returns the scan of a row of T's table (its columns list, in
// order), or pgx's by-name scan for a type without a hand-written one.
func scanner[T any]() pgx.RowToFunc[*T] {
	var f any
	switch any((*T)(nil)).(type) {
	case *shipgraph.Feature:
		f = pgx.RowToFunc[*shipgraph.Feature](scanFeature)
	case *shipgraph.TestCase:
		f = pgx.RowToFunc[*shipgraph.TestCase](scanTestCase)
	case *shipgraph.Build:
		f = pgx.RowToFunc[*shipgraph.Build](scanBuild)
	case *shipgraph.Deployment:
		f = pgx.RowToFunc[*shipgraph.Deployment](scanDeployment)
	case *shipgraph.DeploymentEvent:
		f = pgx.RowToFunc[*shipgraph.DeploymentEvent](scanEvent)
	default:
		return pgx.RowToAddrOfStructByName[T]
	}
	return f.(pgx.RowToFunc[*T])
}
