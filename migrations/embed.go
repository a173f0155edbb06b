// Package migrations holds Shipgraph's database schema as ordered SQL files,
// embedded so that the binary migrates the database it serves.
package migrations

import "embed"

// FS holds the goose migration files, named NNNNN_description.sql.
//
//go:embed *.sql
var FS embed.FS
