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
# login dev/admin. The emulators (dynalite, MinIO, local-kms) are started and
# stopped by scripts/with-emulators.sh, unless AWS_ENDPOINT_URL_DYNAMODB,
# AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL_KMS are all set. Defaults, each
# overridable: BERTH_TABLE=berth, BERTH_BUCKET=berth-blobs, BERTH_INIT=1,
# AWS_REGION=us-east-1. Ctrl-C stops everything.
set -euo pipefail

cd "$(dirname "$0")/.."

export BERTH_BACKEND=aws BERTH_TABLE="${BERTH_TABLE:-berth}" BERTH_BUCKET="${BERTH_BUCKET:-berth-blobs}" BERTH_INIT="${BERTH_INIT:-1}"
export BERTH_ADDR="${BERTH_ADDR:-127.0.0.1:5000}" BERTH_DATA="${BERTH_DATA:-.berth}"
mkdir -p "$BERTH_DATA"
exec scripts/with-emulators.sh go run ./cmd/berth serve --lambda "$@"
