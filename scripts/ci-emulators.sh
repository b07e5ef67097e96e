#!/usr/bin/env bash
# Install and start the emulators the aws-backend and Lambda-mode tests
# use, on a new Debian machine with Go, Node and npm.
#
#   scripts/ci-emulators.sh [ENVFILE]          install, start, write ENVFILE
#   scripts/ci-emulators.sh --stop [ENVFILE]   stop what ENVFILE names
#
# ENVFILE defaults to ${RUNNER_TEMP:-/tmp}/berth-emulators.env. Source it
# before `go test`; it exports
#   BERTH_TEST_DYNAMODB_ENDPOINT  dynalite (DynamoDB API) on 127.0.0.1
#   BERTH_TEST_S3_ENDPOINT        MinIO (S3 API that checks SigV4 signatures
#                                 and presigned-URL expiry) on 127.0.0.1,
#   BERTH_TEST_S3_ACCESS_KEY      with these credentials
#   BERTH_TEST_S3_SECRET_KEY
#   BERTH_TEST_KMS_ENDPOINT       local-kms (KMS API) on 127.0.0.1
#   BERTH_RIE                     the Lambda Runtime Interface Emulator
#   BERTH_DISTRIBUTION_REGISTRY   the distribution registry (registry:3),
#                                 an upstream the pull-through cache's
#                                 tests start with a configuration of their own
#   BERTH_EMULATORS_PID           the servers' process ids (for --stop)
#
# Everything is installed under ${BERTH_TOOLS:-$HOME/.cache/berth-tools},
# one directory per pinned version, and reused from there:
# - dynalite: npm, pinned. The tests also look for it there, to start one
#   themselves when the variable is unset.
# - MinIO's server: `go install github.com/minio/minio@<pseudo-version>`
#   (the Go module proxy serves it): about 7 minutes on 2 cores the first
#   time, then cached.
# - local-kms: scripts/localkms, its own module (a 127.0.0.1 listener over
#   github.com/nsmithuk/local-kms); seconds.
# - aws-lambda-rie: `go install .../cmd/aws-lambda-rie@<pseudo-version>`;
#   seconds. Not started here: Lambda mode runs one per function instance.
# - the distribution registry: `go install
#   github.com/distribution/distribution/v3/cmd/registry@<version>`; about
#   3 minutes on 2 cores the first time. Not started here either.
# The tests look for MinIO, local-kms and aws-lambda-rie there too.
# Servers listen on free 127.0.0.1 ports with data in memory or in a
# temporary directory; logs next to ENVFILE. gofakes3 needs nothing here:
# the tests that use it run it in-process.
# Idempotent: an ENVFILE whose servers all still answer is reused.
set -euo pipefail

readonly DYNALITE_VERSION="4.0.0"
readonly TOOLS_DIR="${BERTH_TOOLS:-$HOME/.cache/berth-tools}"
readonly DYNALITE_DIR="$TOOLS_DIR/dynalite"
readonly DYNALITE_BIN="$DYNALITE_DIR/node_modules/.bin/dynalite"
readonly MINIO_VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"
readonly MINIO_BIN="$TOOLS_DIR/minio/$MINIO_VERSION/minio"
readonly RIE_VERSION="v0.0.0-20261030222936-bef5c4ba774d"
readonly RIE_BIN="$TOOLS_DIR/rie/$RIE_VERSION/aws-lambda-rie"
readonly DISTRIBUTION_VERSION="v3.1.2"
readonly DISTRIBUTION_BIN="$TOOLS_DIR/distribution/$DISTRIBUTION_VERSION/registry"
# MinIO's root credentials (it refuses a secret under 8 characters).
readonly S3_ACCESS_KEY="berthtest" S3_SECRET_KEY="berthtest-secret"

log() { echo "ci-emulators: $*" >&2; }
die() {
	log "$*"
	exit 1
}

stop=false
if [[ "${1:-}" == "--stop" ]]; then
	stop=true
	shift
fi
envfile="${1:-${RUNNER_TEMP:-/tmp}/berth-emulators.env}"

# answers HOST:PORT: whether something accepts connections there.
answers() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }

if $stop; then
	[[ -f "$envfile" ]] || die "no $envfile"
	# shellcheck disable=SC1090
	source "$envfile"
	# shellcheck disable=SC2086 # a list of process ids
	kill $BERTH_EMULATORS_PID 2>/dev/null || true
	log "stopped the emulators (pids $BERTH_EMULATORS_PID)"
	exit 0
fi

if [[ -f "$envfile" ]]; then
	# shellcheck disable=SC1090
	source "$envfile"
	if [[ -n "${BERTH_TEST_DYNAMODB_ENDPOINT:-}" ]] && answers "${BERTH_TEST_DYNAMODB_ENDPOINT#http://}" &&
		[[ -n "${BERTH_TEST_S3_ENDPOINT:-}" ]] && answers "${BERTH_TEST_S3_ENDPOINT#http://}" &&
		[[ -n "${BERTH_TEST_KMS_ENDPOINT:-}" ]] && answers "${BERTH_TEST_KMS_ENDPOINT#http://}" &&
		[[ -x "${BERTH_RIE:-}" ]] && [[ -x "${BERTH_DISTRIBUTION_REGISTRY:-}" ]]; then
		log "reusing the emulators of $envfile"
		exit 0
	fi
	# Some are gone (or the file predates some): start afresh.
	# shellcheck disable=SC2086 # a list of process ids
	kill ${BERTH_EMULATORS_PID:-} 2>/dev/null || true
fi

command -v node >/dev/null 2>&1 || die "node is not installed (Node 20+ is needed for dynalite)"
command -v npm >/dev/null 2>&1 || die "npm is not installed"
command -v go >/dev/null 2>&1 || die "go is not installed (MinIO, local-kms and aws-lambda-rie are built with it)"

if [[ ! -x "$DYNALITE_BIN" ]] || ! grep -q "\"version\": \"$DYNALITE_VERSION\"" "$DYNALITE_DIR/node_modules/dynalite/package.json" 2>/dev/null; then
	log "npm install dynalite@$DYNALITE_VERSION into $DYNALITE_DIR"
	mkdir -p "$DYNALITE_DIR"
	# Its LevelDB binding ships prebuilt in the package (no download).
	npm install --prefix "$DYNALITE_DIR" --no-audit --no-fund --loglevel=error "dynalite@$DYNALITE_VERSION" >&2
fi
[[ -x "$DYNALITE_BIN" ]] || die "dynalite did not install to $DYNALITE_BIN"

# go_install VERSION PKG DIR: go install PKG@VERSION into DIR, saying how
# long the build took.
go_install() {
	local version="$1" pkg="$2" dir="$3" start=$SECONDS
	log "go install $pkg@$version into $dir"
	mkdir -p "$dir"
	GOBIN="$dir" CGO_ENABLED=0 go install "$pkg@$version" >&2 || die "go install $pkg@$version failed"
	log "built $pkg in $((SECONDS - start))s"
}

[[ -x "$RIE_BIN" ]] || go_install "$RIE_VERSION" github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie "$(dirname "$RIE_BIN")"
[[ -x "$MINIO_BIN" ]] || go_install "$MINIO_VERSION" github.com/minio/minio "$(dirname "$MINIO_BIN")"
[[ -x "$DISTRIBUTION_BIN" ]] || go_install "$DISTRIBUTION_VERSION" github.com/distribution/distribution/v3/cmd/registry "$(dirname "$DISTRIBUTION_BIN")"

# local-kms: built from scripts/localkms, cached by its sources' hash.
kms_src="$(cd "$(dirname "$0")/localkms" && pwd)"
kms_bin="$TOOLS_DIR/localkms/$(cat "$kms_src/go.sum" "$kms_src/main.go" | sha256sum | cut -c1-12)/local-kms"
if [[ ! -x "$kms_bin" ]]; then
	log "building local-kms into $kms_bin"
	mkdir -p "$(dirname "$kms_bin")"
	(cd "$kms_src" && CGO_ENABLED=0 go build -o "$kms_bin" .) >&2 || die "building local-kms failed"
fi

mkdir -p "$(dirname "$envfile")"

# start NAME SED CMD...: start a server in the background (setsid: it
# outlives this script; CI ends it with the run), wait until its log has
# the URL that SED extracts and the URL answers; set started_url and
# started_pid.
start() {
	local name="$1" expr="$2"
	shift 2
	local logf="${envfile%.env}.$name.log"
	setsid "$@" >"$logf" 2>&1 </dev/null &
	started_pid=$!
	started_url=""
	for _ in $(seq 1 300); do
		started_url="$(sed -n "$expr" "$logf" | head -n 1)"
		if [[ -n "$started_url" ]] && answers "${started_url#http://}"; then
			return 0
		fi
		kill -0 "$started_pid" 2>/dev/null || break
		sleep 0.1
	done
	log "$name did not start; its log:"
	cat "$logf" >&2
	kill "$started_pid" 2>/dev/null || true
	return 1
}

# free_port: a port nothing on 127.0.0.1 accepts connections on.
free_port() {
	local port
	while :; do
		port=$((20000 + RANDOM % 40000))
		answers "127.0.0.1:$port" || break
	done
	echo "$port"
}

ok=false
for _ in 1 2 3; do
	port="$(free_port)"
	if start dynalite "s|.*listening at.*|http://127.0.0.1:$port|p" \
		"$DYNALITE_BIN" --host 127.0.0.1 --port "$port" --createTableMs 0 --deleteTableMs 0 --updateTableMs 0; then
		ok=true
		break
	fi
done
$ok || die "could not start dynalite"
dynalite_url="$started_url" dynalite_pid=$started_pid
log "dynalite $DYNALITE_VERSION on $dynalite_url (pid $dynalite_pid)"

data="$(mktemp -d "${TMPDIR:-/tmp}/berth-emulators.XXXXXX")"
ok=false
for _ in 1 2 3; do
	port="$(free_port)"
	if MINIO_ROOT_USER="$S3_ACCESS_KEY" MINIO_ROOT_PASSWORD="$S3_SECRET_KEY" MINIO_BROWSER=off \
		start minio "s|^API: .*\(http://127.0.0.1:$port\).*|\1|p" \
		"$MINIO_BIN" server --address "127.0.0.1:$port" --console-address "127.0.0.1:$(free_port)" "$data/minio"; then
		ok=true
		break
	fi
done
$ok || die "could not start MinIO"
minio_url="$started_url" minio_pid=$started_pid
log "MinIO on $minio_url (pid $minio_pid)"

start local-kms "s|^local-kms on \(http://[0-9.:]*\).*|\1|p" "$kms_bin" -addr 127.0.0.1:0 -data "$data/kms" || die "could not start local-kms"
kms_url="$started_url" kms_pid=$started_pid
log "local-kms on $kms_url (pid $kms_pid)"

cat >"$envfile" <<EOF
export BERTH_TEST_DYNAMODB_ENDPOINT=$dynalite_url
export BERTH_TEST_S3_ENDPOINT=$minio_url
export BERTH_TEST_S3_ACCESS_KEY=$S3_ACCESS_KEY
export BERTH_TEST_S3_SECRET_KEY=$S3_SECRET_KEY
export BERTH_TEST_KMS_ENDPOINT=$kms_url
export BERTH_RIE=$RIE_BIN
export BERTH_DISTRIBUTION_REGISTRY=$DISTRIBUTION_BIN
export BERTH_EMULATORS_PID="$dynalite_pid $minio_pid $kms_pid"
EOF
log "env in $envfile"
