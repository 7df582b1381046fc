#!/usr/bin/env bash
# Puts Tableau's Extensions API library into assets/static/vendor/ (where the extension page
# loads it from by default), from the npm package that ships it, pinned by version and sha256.
# The library is Tableau's (MIT), not ours to commit. Idempotent: a file with the right hash is
# kept. Without npm or network it says so and exits 1; the page then runs standalone.
set -euo pipefail
cd "$(dirname "$0")/.."

# The same pin as the Dockerfile's TABLEAU_SANDBOX_VERSION / TABLEAU_LIB_SHA256.
VERSION="${TABLEAU_SANDBOX_VERSION:-1.16.0}"
SHA256="${TABLEAU_LIB_SHA256:-ff825543c37122899e08856f0eb2dd860d4e6bbf1b461791a772358903a32a8c}"
FILE=tableau.extensions.1.latest.min.js
# TABLEAU_LIB_DIR: another folder (the tests use one).
DEST="${TABLEAU_LIB_DIR:-assets/static/vendor}/$FILE"

matches() { [ -f "$1" ] && echo "$SHA256  $1" | sha256sum -c --status -; }

if matches "$DEST"; then
  echo "Tableau Extensions API library: $DEST (sha256 checked)"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "Tableau Extensions API library: not fetched (npm is not installed); the page runs standalone outside Tableau. See assets/static/vendor/README.md." >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! (cd "$work" && timeout 120 npm pack --silent "@tableau/tabextsandbox@$VERSION" >/dev/null 2>"$work/npm.err"); then
  echo "Tableau Extensions API library: could not fetch @tableau/tabextsandbox@$VERSION from npm (no network?): $(tail -n 1 "$work/npm.err"). The page runs standalone outside Tableau; see assets/static/vendor/README.md." >&2
  exit 1
fi
tar -xzf "$work"/tableau-tabextsandbox-"$VERSION".tgz -C "$work" "package/sandboxResources/$FILE"
if ! matches "$work/package/sandboxResources/$FILE"; then
  echo "Tableau Extensions API library: @tableau/tabextsandbox@$VERSION's $FILE does not have the pinned sha256 $SHA256; not installed." >&2
  exit 1
fi
mkdir -p "$(dirname "$DEST")"
cp "$work/package/sandboxResources/$FILE" "$DEST"
echo "Tableau Extensions API library: fetched @tableau/tabextsandbox@$VERSION into $DEST (sha256 checked)"
