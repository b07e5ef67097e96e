#!/usr/bin/env bash
# Lambda mode (make run-lambda): the registry with every function run as its
# real bootstrap under the Lambda Runtime Interface Emulator, configured from
# the synthesized stack, on the aws backend against emulators
# (docs/lambda-mode.md).
#
#   scripts/run-lambda.sh [--template infra/cdk.out/berth-prod.template.json]
#
# Same contract as `make run`: BERTH_ADDR (default 127.0.0.1:5000), BERTH_DATA
# (default .berth; the builds go to $BERTH_DATA/lambda), BERTH_ADMIN_TOKEN,
# login dev/admin. Emulators: when AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_S3
# and AWS_ENDPOINT_URL_KMS are all set they are used as they are; otherwise
# scripts/ci-emulators.sh installs (once, under ${BERTH_TOOLS:-~/.cache/berth-tools})
# and starts dynalite, MinIO and local-kms, which are stopped on exit. Defaults,
# each overridable: BERTH_TABLE=berth, BERTH_BUCKET=berth-blobs, BERTH_INIT=1,
# AWS_REGION=us-east-1. Ctrl-C stops everything.
set -euo pipefail

cd "$(dirname "$0")/.."

log() { echo "run-lambda: $*" >&2; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/berth-lambda.XXXXXX")"
emulators=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [[ -n "$emulators" ]]; then
		scripts/ci-emulators.sh --stop "$emulators" >/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z "${AWS_ENDPOINT_URL_DYNAMODB:-}" || -z "${AWS_ENDPOINT_URL_S3:-}" || -z "${AWS_ENDPOINT_URL_KMS:-}" ]]; then
	emulators="$tmp/emulators.env"
	scripts/ci-emulators.sh "$emulators"
	# shellcheck disable=SC1090
	source "$emulators"
	export AWS_ENDPOINT_URL_DYNAMODB="$BERTH_TEST_DYNAMODB_ENDPOINT" AWS_ENDPOINT_URL_S3="$BERTH_TEST_S3_ENDPOINT"
	export AWS_ENDPOINT_URL_KMS="$BERTH_TEST_KMS_ENDPOINT" BERTH_RIE
	export AWS_ACCESS_KEY_ID="$BERTH_TEST_S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$BERTH_TEST_S3_SECRET_KEY"
	log "emulators: DynamoDB $AWS_ENDPOINT_URL_DYNAMODB, S3 $AWS_ENDPOINT_URL_S3, KMS $AWS_ENDPOINT_URL_KMS"
fi
export AWS_REGION="${AWS_REGION:-us-east-1}"
export BERTH_BACKEND=aws BERTH_TABLE="${BERTH_TABLE:-berth}" BERTH_BUCKET="${BERTH_BUCKET:-berth-blobs}" BERTH_INIT="${BERTH_INIT:-1}"
export BERTH_ADDR="${BERTH_ADDR:-127.0.0.1:5000}" BERTH_DATA="${BERTH_DATA:-.berth}"
mkdir -p "$BERTH_DATA"
set +e
go run ./cmd/berth serve --lambda "$@"
rc=$?
set -e
exit "$rc"
