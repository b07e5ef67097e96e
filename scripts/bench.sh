#!/usr/bin/env bash
# Benchmark Berth (authentication on, as `make run` gives it, and off)
# beside the distribution registry and go-containerregistry's in-memory
# registry on the same workloads, in one run on 127.0.0.1:
#
#   scripts/bench.sh [-quick] [-duration 6s] [-reps 3] [-servers ...] [-workloads ...] [-cpuprofile FILE]
#
# Prints a table (markdown): a column per registry and speed-ups (above
# 1×: the first named is faster). See scripts/bench/main.go for what
# each workload does. The distribution registry is the binary
# BERTH_DISTRIBUTION_REGISTRY names; unset, it is built once from the Go
# module proxy into ${BERTH_TOOLS:-~/.cache/berth-tools}, the same
# version and place as scripts/ci-emulators.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly DIST_VERSION="v3.1.2"
if [[ -z "${BERTH_DISTRIBUTION_REGISTRY:-}" ]]; then
	bin="${BERTH_TOOLS:-$HOME/.cache/berth-tools}/distribution/$DIST_VERSION/registry"
	if [[ ! -x "$bin" ]]; then
		echo "bench: building distribution $DIST_VERSION's registry into $(dirname "$bin")" >&2
		mkdir -p "$(dirname "$bin")"
		GOBIN="$(dirname "$bin")" CGO_ENABLED=0 go install "github.com/distribution/distribution/v3/cmd/registry@$DIST_VERSION"
	fi
	export BERTH_DISTRIBUTION_REGISTRY="$bin"
fi
exec go run ./scripts/bench "$@"
