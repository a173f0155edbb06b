#!/usr/bin/env bash
# Fails when graph/ (or the resolver stubs) is not exactly what gqlgen
# generates from schema/ and gqlgen.yml: generated code is never edited by
# hand. It compares against a snapshot of the working tree, not git, so it
# gives the same answer before and after a commit.
set -euo pipefail
cd "$(dirname "$0")/.."

snapshot=$(mktemp -d)
trap 'rm -rf "$snapshot"' EXIT
cp -a graph resolvers "$snapshot/"

go tool gqlgen generate

if ! diff -ru "$snapshot/graph" graph || ! diff -ru "$snapshot/resolvers" resolvers; then
	# Put the tree back as it was, so the failure changes nothing.
	rm -rf graph resolvers
	cp -a "$snapshot/graph" "$snapshot/resolvers" .
	echo "check-generate: graph/ is out of date with schema/; run 'make generate' and commit the result" >&2
	exit 1
fi
echo "check-generate: graph/ matches schema/" >&2
