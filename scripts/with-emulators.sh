#!/usr/bin/env bash
# Run a command with the AWS SDK's environment pointed at the emulators of
# scripts/ci-emulators.sh: dynalite, MinIO and local-kms (installed the first
# time under ${BERTH_TOOLS:-~/.cache/berth-tools}), started here and stopped
# when the command ends. When AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_S3
# and AWS_ENDPOINT_URL_KMS are all set, they are used as they are.
#
#   scripts/with-emulators.sh CMD [ARG...]
#
# Exports AWS_ENDPOINT_URL_{DYNAMODB,S3,KMS}, AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY (MinIO's), AWS_REGION (default us-east-1) and BERTH_RIE
# (the Lambda Runtime Interface Emulator). Used by run-lambda.sh and
# coldstart.sh.
set -euo pipefail

cd "$(dirname "$0")/.."

tmp="$(mktemp -d "${TMPDIR:-/tmp}/berth-emulators-run.XXXXXX")"
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
	echo "with-emulators: DynamoDB $AWS_ENDPOINT_URL_DYNAMODB, S3 $AWS_ENDPOINT_URL_S3, KMS $AWS_ENDPOINT_URL_KMS" >&2
fi
export AWS_REGION="${AWS_REGION:-us-east-1}"
set +e
"$@"
rc=$?
set -e
exit "$rc"
