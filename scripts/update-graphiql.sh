#!/usr/bin/env bash
# Re-vendors the GraphiQL browser bundle (and the React UMD builds it needs)
# into internal/graphiql/assets/, where go:embed picks them up. The GraphiQL
# page must work without any CDN, so these files are committed to the tree;
# run this script only to change a pinned version, then review the diff and
# check the page in a browser.
#
# Only the npm registry is contacted (via `npm pack`, which verifies each
# tarball against the registry's integrity hash).
#
# Note: graphiql's UMD bundle already contains the graphql-ws client
# (graphql-transport-ws protocol) used by GraphiQL.createFetcher when it is
# given a subscriptionUrl, so no separate graphql-ws build is vendored.
set -euo pipefail

GRAPHIQL_VERSION="4.1.2"
REACT_VERSION="18.2.0"
REACT_DOM_VERSION="18.2.0"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${repo_root}/internal/graphiql/assets"

command -v npm >/dev/null || { echo "update-graphiql: npm is required" >&2; exit 1; }
command -v node >/dev/null || { echo "update-graphiql: node is required" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

versions="${work}/VERSIONS"
{
  echo "# Vendored by scripts/update-graphiql.sh from the npm registry; do not edit by hand."
  echo "# package@version integrity(sha512 of the npm tarball)"
} >"${versions}"

# fetch SPEC: downloads and unpacks one npm package into ${work}/<name>/.
fetch() {
  local spec="$1" name="${1%@*}"
  local meta="${work}/${name}.json"
  (cd "${work}" && npm pack --silent --json "${spec}" >"${meta}")
  local tarball integrity
  tarball="$(node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[0].filename)' "${meta}")"
  integrity="$(node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[0].integrity)' "${meta}")"
  mkdir -p "${work}/${name}"
  tar -xzf "${work}/${tarball}" -C "${work}/${name}" --strip-components=1
  echo "${spec} ${integrity}" >>"${versions}"
}

fetch "graphiql@${GRAPHIQL_VERSION}"
fetch "react@${REACT_VERSION}"
fetch "react-dom@${REACT_DOM_VERSION}"

out="${work}/out"
mkdir -p "${out}"
# The *.min.* files are what the page loads; source maps are left out on purpose
# (graphiql's alone is 4.7 MB).
cp "${work}/graphiql/graphiql.min.js" "${out}/graphiql.min.js"
cp "${work}/graphiql/graphiql.min.css" "${out}/graphiql.min.css"
cp "${work}/graphiql/LICENSE" "${out}/LICENSE.graphiql"
cp "${work}/react/umd/react.production.min.js" "${out}/react.production.min.js"
cp "${work}/react/LICENSE" "${out}/LICENSE.react"
cp "${work}/react-dom/umd/react-dom.production.min.js" "${out}/react-dom.production.min.js"
cp "${work}/react-dom/LICENSE" "${out}/LICENSE.react-dom"
cp "${versions}" "${out}/VERSIONS"

# Fail loudly if the graphiql bundle ever stops being offline-safe or changes
# the globals the bootstrap script relies on.
if grep -Eq 'url\((["'"'"']?)https?:' "${out}/graphiql.min.css"; then
  echo "update-graphiql: graphiql.min.css references remote URLs" >&2
  exit 1
fi
for needle in 'createFetcher' 'graphql-transport-ws' '.GraphiQL=t(e.React,e.ReactDOM)'; do
  if ! grep -qF -- "${needle}" "${out}/graphiql.min.js"; then
    echo "update-graphiql: graphiql.min.js no longer contains '${needle}'; check internal/graphiql/static/bootstrap.js" >&2
    exit 1
  fi
done

rm -rf "${dest}"
mkdir -p "${dest}"
cp "${out}"/* "${dest}/"
echo "update-graphiql: wrote $(find "${dest}" -type f | wc -l) files to ${dest#"${repo_root}/"}:"
(cd "${dest}" && wc -c -- * | sed 's/^/  /')
