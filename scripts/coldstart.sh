#!/usr/bin/env bash
# Cold-start benchmark (make coldstart; docs/lambda-mode.md): for every
# function, its bootstrap size (linux/arm64, stripped, as `make build` builds
# it), package init time (GODEBUG=inittrace=1), and under the Lambda Runtime
# Interface Emulator the Init Duration and first and warm invoke latency,
# beside a hello-world aws-lambda-go function measured in the same run.
#
#   scripts/coldstart.sh [-runs 5] [-warm 20]
#
# Runs against the emulators of scripts/ci-emulators.sh (started here and
# stopped on exit unless AWS_ENDPOINT_URL_DYNAMODB, _S3 and _KMS are set) and
# prints a Markdown table.
set -euo pipefail

cd "$(dirname "$0")/.."

tmp="$(mktemp -d "${TMPDIR:-/tmp}/berth-coldstart.XXXXXX")"
emulators=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [[ -n "$emulators" ]]; then
		scripts/ci-emulators.sh --stop "$emulators" >/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

if [[ -z "${AWS_ENDPOINT_URL_DYNAMODB:-}" || -z "${AWS_ENDPOINT_URL_S3:-}" || -z "${AWS_ENDPOINT_URL_KMS:-}" ]]; then
	emulators="$tmp/emulators.env"
	scripts/ci-emulators.sh "$emulators"
	# shellcheck disable=SC1090
	source "$emulators"
	export AWS_ENDPOINT_URL_DYNAMODB="$BERTH_TEST_DYNAMODB_ENDPOINT" AWS_ENDPOINT_URL_S3="$BERTH_TEST_S3_ENDPOINT"
	export AWS_ENDPOINT_URL_KMS="$BERTH_TEST_KMS_ENDPOINT" BERTH_RIE
	export AWS_ACCESS_KEY_ID="$BERTH_TEST_S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$BERTH_TEST_S3_SECRET_KEY"
fi
export AWS_REGION="${AWS_REGION:-us-east-1}"
go run ./scripts/coldstart "$@"
