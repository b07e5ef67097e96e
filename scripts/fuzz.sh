#!/usr/bin/env bash
# Run each fuzz target for a short time (CI) or as long as asked.
#
#   scripts/fuzz.sh            every target for ${FUZZTIME:-50000x} inputs
#   FUZZTIME=5m scripts/fuzz.sh
#
# CI counts inputs rather than time: a timed run on a loaded machine can
# end with the fuzzing engine's own "context deadline exceeded" while a
# worker is mid-input, a failure of the harness, not of the code.
#
# Seed corpora live in <package>/testdata/fuzz/<FuzzName>/ and also run as
# plain tests under `go test`. A failure writes the failing input there;
# commit it with the fix so it stays a regression test.
set -euo pipefail

cd "$(dirname "$0")/.."

fuzztime="${FUZZTIME:-50000x}"
# Every parser that faces clients: policy statements, Authorization
# headers, the WWW-Authenticate challenge, route matching, repository
# names, manifests and indexes, Content-Range, the direct-upload part list.
targets=(
	"FuzzParseStatement ./shared/auth"
	"FuzzAuthorizationHeader ./shared/authz"
	"FuzzChallenge ./shared/authz"
	"FuzzFind ./shared/route"
	"FuzzValidName ./shared/oci"
	"FuzzParseManifest ./shared/oci"
	"FuzzContentRange ./shared/registry"
	"FuzzReadParts ./shared/registry"
	"FuzzInvokeMatchesTheRuntime ./shared/lambdahttp"
)

for t in "${targets[@]}"; do
	read -r name pkg <<<"$t"
	echo "fuzz: $name ($pkg) for $fuzztime" >&2
	go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" "$pkg"
done
echo "fuzz: ${#targets[@]} targets passed" >&2
