#!/usr/bin/env bash
# Benchmark Berth's local gateway against go-containerregistry's in-memory
# registry on the same workloads (both in-process on 127.0.0.1).
#
#   scripts/bench.sh [-duration 5s] [-reps 3] [-clients 8,32] [-cpuprofile FILE]
#
# Prints a table: workload, unit, berth, ggcr, berth/ggcr. See
# scripts/bench/main.go for what each workload does.
set -euo pipefail
cd "$(dirname "$0")/.."
exec go run ./scripts/bench "$@"
