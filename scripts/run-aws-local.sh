#!/usr/bin/env bash
# Run the registry's local gateway on the aws backend (DynamoDB + S3).
#
#   scripts/run-aws-local.sh                 serve until interrupted, as `make run` does
#   scripts/run-aws-local.sh --conformance   serve on a free port, run the OCI conformance
#                                            suite against it, stop; exit with its status
#
# Endpoints: when AWS_ENDPOINT_URL is set (LocalStack: integration/localstack/run.sh),
# or both AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_S3, they are used as they
# are. Otherwise emulators are started on free 127.0.0.1 ports and stopped on exit:
# dynalite for DynamoDB (scripts/ci-emulators.sh, which npm-installs it the first
# time) and gofakes3 for S3 (go run ./integration/aws/fakes3); both keep everything
# in memory.
#
# Defaults, each overridable from the environment: BERTH_TABLE=berth,
# BERTH_BUCKET=berth-blobs, BERTH_INIT=1 (create table and bucket when missing),
# AWS_REGION=us-east-1, AWS_ACCESS_KEY_ID=test and AWS_SECRET_ACCESS_KEY=test
# (emulators and LocalStack take any), BERTH_ADDR=127.0.0.1:5000, BERTH_DATA=a
# temporary directory. With authentication on (BERTH_AUTH, default on) tokens are
# signed with BERTH_SIGNING_KEY (PEM), else the KMS key BERTH_SIGNING_KEY_ID, else
# a P-256 key the server keeps in BERTH_DATA. The server prints its URL and a
# `docker login` line with the bootstrap admin's token (BERTH_ADMIN_TOKEN fixes it).
#
# Another script can start this one in the background and read the URL from the
# line "Berth registry on http://HOST:PORT ..." it prints (see --conformance).
set -euo pipefail

cd "$(dirname "$0")/.."

conformance=false
case "${1:-}" in
--conformance) conformance=true ;;
"") ;;
*)
	sed -n '2,8p' "$0" >&2
	exit 2
	;;
esac

readonly START_TIMEOUT="${BERTH_START_TIMEOUT:-300}" # seconds; includes compiling
tmp="$(mktemp -d "${TMPDIR:-/tmp}/berth-aws-local.XXXXXX")"
pids=()
dynalite_env=""

log() { echo "run-aws-local: $*" >&2; }

# stop ends what this script started: process groups first (go run and
# the binary it builds), then the emulators.
stop_all() {
	local p
	for p in "${pids[@]}"; do
		kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		for _ in $(seq 1 50); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	pids=()
	if [[ -n "$dynalite_env" ]]; then
		scripts/ci-emulators.sh --stop "$dynalite_env" >/dev/null 2>&1 || true
	fi
}
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	stop_all
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# background CMD...: start CMD in its own process group (setsid, when
# there is one) with output to $tmp/<name>.log, and remember it.
background() {
	local name="$1"
	shift
	if command -v setsid >/dev/null 2>&1; then
		setsid "$@" >"$tmp/$name.log" 2>&1 </dev/null &
	else
		"$@" >"$tmp/$name.log" 2>&1 </dev/null &
	fi
	pids+=("$!")
}

# wait_line NAME SED: wait until NAME's log has a line SED extracts; print it.
wait_line() {
	local name="$1" expr="$2" pid="${pids[-1]}" got="" deadline=$((SECONDS + START_TIMEOUT))
	while [[ -z "$got" ]]; do
		if ! kill -0 "$pid" 2>/dev/null; then
			log "$name exited; its log:"
			cat "$tmp/$name.log" >&2
			return 1
		fi
		if ((SECONDS >= deadline)); then
			log "$name did not start within ${START_TIMEOUT}s; its log:"
			cat "$tmp/$name.log" >&2
			return 1
		fi
		got="$(sed -n "$expr" "$tmp/$name.log" | head -n 1)"
		[[ -n "$got" ]] || sleep 0.2
	done
	echo "$got"
}

export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
if [[ -z "${AWS_ENDPOINT_URL:-}" && (-z "${AWS_ENDPOINT_URL_DYNAMODB:-}" || -z "${AWS_ENDPOINT_URL_S3:-}") ]]; then
	if [[ -z "${AWS_ENDPOINT_URL_DYNAMODB:-}" ]]; then
		dynalite_env="$tmp/dynalite.env"
		scripts/ci-emulators.sh "$dynalite_env"
		# shellcheck disable=SC1090
		source "$dynalite_env"
		export AWS_ENDPOINT_URL_DYNAMODB="$BERTH_TEST_DYNAMODB_ENDPOINT"
	fi
	if [[ -z "${AWS_ENDPOINT_URL_S3:-}" ]]; then
		background fakes3 go run ./integration/aws/fakes3 -addr 127.0.0.1:0
		AWS_ENDPOINT_URL_S3="$(wait_line fakes3 's|^fakes3 on \(http://[0-9.:]*\).*|\1|p')"
		export AWS_ENDPOINT_URL_S3
	fi
	log "emulators: DynamoDB $AWS_ENDPOINT_URL_DYNAMODB, S3 $AWS_ENDPOINT_URL_S3"
fi

export BERTH_BACKEND=aws
export BERTH_TABLE="${BERTH_TABLE:-berth}" BERTH_BUCKET="${BERTH_BUCKET:-berth-blobs}" BERTH_INIT="${BERTH_INIT:-1}"
export BERTH_DATA="${BERTH_DATA:-$tmp/data}"
mkdir -p "$BERTH_DATA"

if ! $conformance; then
	export BERTH_ADDR="${BERTH_ADDR:-127.0.0.1:5000}"
	log "serving on http://$BERTH_ADDR (table $BERTH_TABLE, bucket $BERTH_BUCKET); Ctrl-C stops it and the emulators"
	set +e
	go run ./cmd/berth serve
	rc=$?
	set -e
	exit "$rc"
fi

scripts/conformance.sh --build-only
export BERTH_ADDR=127.0.0.1:0
background berth go run ./cmd/berth serve
hostport="$(wait_line berth 's|^Berth registry on http://\([0-9.]*:[0-9]*\).*|\1|p')"
log "berth serve (aws backend) is up on http://$hostport"
tenancy="${BERTH_TENANCY:-dev}"
if [[ "${BERTH_AUTH:-on}" != off ]]; then
	token="$(sed -n 's|^Log in:  echo \([^ ]*\) .*|\1|p' "$tmp/berth.log" | head -n 1)"
	[[ -n "$token" ]] || {
		log "no admin token in the server's output"
		exit 1
	}
	export OCI_USERNAME="$tenancy/admin" OCI_PASSWORD="$token"
fi
export OCI_REPO1="${OCI_REPO1:-$tenancy/conformance/a}" OCI_REPO2="${OCI_REPO2:-$tenancy/conformance/b}"
export OCI_RESULTS_DIR="${OCI_RESULTS_DIR:-$tmp/conformance}"
set +e
scripts/conformance.sh "http://$hostport"
rc=$?
set -e
if ((rc != 0)); then
	log "the server's warnings and errors:"
	grep -E '"level":"(WARN|ERROR)"' "$tmp/berth.log" | tail -n 40 >&2 || true
fi
exit "$rc"
