#!/usr/bin/env bash
# Cold-start benchmark (make coldstart; docs/lambda-mode.md): for every
# function, its bootstrap size (linux/arm64, stripped, as `make build` builds
# it), package init time (GODEBUG=inittrace=1), and under the Lambda Runtime
# Interface Emulator the Init Duration and first and warm invoke latency,
# beside a hello-world aws-lambda-go function measured in the same run.
#
#   scripts/coldstart.sh [-runs 5] [-warm 20]
#
# Runs against the emulators of scripts/with-emulators.sh and prints a
# Markdown table.
set -euo pipefail

cd "$(dirname "$0")/.."
exec scripts/with-emulators.sh go run ./scripts/coldstart "$@"
