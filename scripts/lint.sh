#!/usr/bin/env bash
# Static checks CI runs before the tests, for every Go module (the
# repository root, infra/ and scripts/localkms):
#
#   go mod tidy -diff   go.mod and go.sum say exactly what the code imports
#   staticcheck ./...   honnef.co/go/tools, pinned below
#
#   scripts/lint.sh
#
# staticcheck is installed from the Go module proxy at the pinned version
# into ${BERTH_TOOLS:-$HOME/.cache/berth-tools}/staticcheck-<version> the
# first time (the same cache scripts/ci-emulators.sh uses), then reused.
# To move to a new version: change STATICCHECK_VERSION, run this script,
# and fix what it reports.
set -euo pipefail

readonly STATICCHECK_VERSION="v0.8.2" # staticcheck 2026.2.2
readonly TOOLS_DIR="${BERTH_TOOLS:-$HOME/.cache/berth-tools}"
readonly BIN_DIR="$TOOLS_DIR/staticcheck-$STATICCHECK_VERSION"

cd "$(dirname "$0")/.."

log() { echo "lint: $*" >&2; }

if [[ ! -x "$BIN_DIR/staticcheck" ]]; then
	log "go install honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION into $BIN_DIR"
	mkdir -p "$BIN_DIR"
	GOBIN="$BIN_DIR" go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
fi

status=0
for mod in . infra scripts/localkms; do
	log "$mod: go mod tidy -diff"
	if ! (cd "$mod" && go mod tidy -diff); then
		log "$mod: go.mod or go.sum is not tidy: run (cd $mod && go mod tidy) and commit the result"
		status=1
	fi
	log "$mod: staticcheck ./..."
	if ! (cd "$mod" && "$BIN_DIR/staticcheck" ./...); then
		status=1
	fi
done
((status == 0)) && log "go mod tidy -diff and staticcheck are clean in every module"
exit "$status"
