#!/usr/bin/env bash
# Berth's aws backend against LocalStack's S3 and DynamoDB (free plan).
#
#   LOCALSTACK_AUTH_TOKEN=... integration/localstack/run.sh          test, then stop LocalStack
#   LOCALSTACK_AUTH_TOKEN=... integration/localstack/run.sh --serve  start it and serve the
#                                                                    registry on it until Ctrl-C
#   integration/localstack/run.sh --down                             stop and remove LocalStack
#
# Steps (each one is the emulator path's step, with AWS_ENDPOINT_URL pointing at
# LocalStack instead of dynalite and gofakes3):
#   1. docker compose up LocalStack (compose.yaml: S3 and DynamoDB on 127.0.0.1:4566)
#      and wait until both services answer;
#   2. the aws-backend tests against it: the store contract suites and the
#      integration suite (conformance, 50 racing pushes, upload sweeping, cost
#      budgets), each on its own fresh table and bucket (BERTH_TEST_AWS_ENDPOINT);
#   3. scripts/run-aws-local.sh --conformance: `berth serve` with
#      BERTH_BACKEND=aws and BERTH_INIT=1 creates table "berth" and bucket
#      "berth-blobs" in LocalStack and the OCI conformance suite runs through the
#      local gateway.
# With --serve, step 2 and 3 give way to scripts/run-aws-local.sh serving on
# BERTH_ADDR (default 127.0.0.1:5000): docker login/push/pull against it.
set -euo pipefail

cd "$(dirname "$0")/../.."
readonly COMPOSE_FILE=integration/localstack/compose.yaml
readonly PORT="${LOCALSTACK_PORT:-4566}"
readonly ENDPOINT="http://127.0.0.1:$PORT"

log() { echo "localstack: $*" >&2; }
die() {
	log "$*"
	exit 1
}

compose() {
	if docker compose version >/dev/null 2>&1; then
		docker compose -f "$COMPOSE_FILE" "$@"
	elif command -v docker-compose >/dev/null 2>&1; then
		docker-compose -f "$COMPOSE_FILE" "$@"
	else
		die "needs docker compose (or docker-compose)"
	fi
}

mode="${1:-test}"
case "$mode" in
test | --serve) ;;
--down)
	LOCALSTACK_AUTH_TOKEN="${LOCALSTACK_AUTH_TOKEN:-unused}" compose down -v
	exit 0
	;;
*)
	sed -n '2,8p' "$0" >&2
	exit 2
	;;
esac

command -v docker >/dev/null 2>&1 || die "needs docker (LocalStack runs in a container)"
[[ -n "${LOCALSTACK_AUTH_TOKEN:-}" ]] || die "set LOCALSTACK_AUTH_TOKEN (a free LocalStack account gives one)"

log "starting LocalStack on $ENDPOINT"
compose up -d
# Wait until S3 and DynamoDB report available (or running).
health=""
for _ in $(seq 1 150); do
	health="$(curl -fsS "$ENDPOINT/_localstack/health" 2>/dev/null || true)"
	if grep -Eq '"s3": *"(available|running)"' <<<"$health" && grep -Eq '"dynamodb": *"(available|running)"' <<<"$health"; then
		break
	fi
	health=""
	sleep 2
done
[[ -n "$health" ]] || die "LocalStack did not report s3 and dynamodb available; see: docker compose -f $COMPOSE_FILE logs"
log "LocalStack is up"
if [[ "$mode" == test ]]; then
	trap 'compose down -v >/dev/null 2>&1 || true' EXIT
fi

export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
if [[ "$mode" == --serve ]]; then
	AWS_ENDPOINT_URL="$ENDPOINT" exec scripts/run-aws-local.sh
fi

log "aws-backend tests against LocalStack"
BERTH_TEST_AWS_ENDPOINT="$ENDPOINT" go test -count=1 \
	./shared/store/dynamo/... ./shared/store/s3store/... ./integration/aws/...

log "berth serve on LocalStack, OCI conformance suite through the local gateway"
AWS_ENDPOINT_URL="$ENDPOINT" scripts/run-aws-local.sh --conformance
