#!/usr/bin/env bash
# Install and start the emulators the aws-backend tests use, on a new
# Debian machine with Node and npm.
#
#   scripts/ci-emulators.sh [ENVFILE]          install, start, write ENVFILE
#   scripts/ci-emulators.sh --stop [ENVFILE]   stop what ENVFILE names
#
# ENVFILE defaults to ${RUNNER_TEMP:-/tmp}/berth-emulators.env. Source it
# before `go test`; it exports
#   BERTH_TEST_DYNAMODB_ENDPOINT  dynalite (DynamoDB API) on 127.0.0.1
#   BERTH_EMULATORS_PID           its process id (for --stop)
#
# DynamoDB: npm dynalite, pinned, installed into
# ${BERTH_TOOLS:-$HOME/.cache/berth-tools}/dynalite (where the tests also
# look for it, to start one themselves when the variable is unset). It
# listens on a free 127.0.0.1 port, data in memory; log next to ENVFILE.
# S3: the tests run gofakes3 in-process, and scripts/run-aws-local.sh
# starts it as a server (go run ./integration/aws/fakes3): nothing to
# install here.
# Idempotent: an ENVFILE naming a dynalite that still answers is reused.
set -euo pipefail

readonly DYNALITE_VERSION="4.0.0"
readonly TOOLS_DIR="${BERTH_TOOLS:-$HOME/.cache/berth-tools}"
readonly DYNALITE_DIR="$TOOLS_DIR/dynalite"
readonly DYNALITE_BIN="$DYNALITE_DIR/node_modules/.bin/dynalite"

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
	kill "$BERTH_EMULATORS_PID" 2>/dev/null || true
	log "stopped dynalite (pid $BERTH_EMULATORS_PID)"
	exit 0
fi

if [[ -f "$envfile" ]]; then
	# shellcheck disable=SC1090
	source "$envfile"
	if [[ -n "${BERTH_TEST_DYNAMODB_ENDPOINT:-}" ]] && answers "${BERTH_TEST_DYNAMODB_ENDPOINT#http://}"; then
		log "reusing dynalite at $BERTH_TEST_DYNAMODB_ENDPOINT"
		exit 0
	fi
fi

command -v node >/dev/null 2>&1 || die "node is not installed (Node 20+ is needed for dynalite)"
command -v npm >/dev/null 2>&1 || die "npm is not installed"

if [[ ! -x "$DYNALITE_BIN" ]] || ! grep -q "\"version\": \"$DYNALITE_VERSION\"" "$DYNALITE_DIR/node_modules/dynalite/package.json" 2>/dev/null; then
	log "npm install dynalite@$DYNALITE_VERSION into $DYNALITE_DIR"
	mkdir -p "$DYNALITE_DIR"
	# Its LevelDB binding ships prebuilt in the package (no download).
	npm install --prefix "$DYNALITE_DIR" --no-audit --no-fund --loglevel=error "dynalite@$DYNALITE_VERSION" >&2
fi
[[ -x "$DYNALITE_BIN" ]] || die "dynalite did not install to $DYNALITE_BIN"

mkdir -p "$(dirname "$envfile")"
logfile="${envfile%.env}.dynalite.log"
for _ in 1 2 3 4 5; do
	port=$((20000 + RANDOM % 40000))
	answers "127.0.0.1:$port" && continue
	# setsid: the server outlives this script (CI ends it with the run).
	setsid "$DYNALITE_BIN" --host 127.0.0.1 --port "$port" \
		--createTableMs 0 --deleteTableMs 0 --updateTableMs 0 >"$logfile" 2>&1 </dev/null &
	pid=$!
	for _ in $(seq 1 150); do
		grep -q "listening at" "$logfile" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if grep -q "listening at" "$logfile" && answers "127.0.0.1:$port"; then
		cat >"$envfile" <<EOF
export BERTH_TEST_DYNAMODB_ENDPOINT=http://127.0.0.1:$port
export BERTH_EMULATORS_PID=$pid
EOF
		log "dynalite $DYNALITE_VERSION on http://127.0.0.1:$port (pid $pid); env in $envfile"
		exit 0
	fi
	kill "$pid" 2>/dev/null || true
	log "dynalite did not start on port $port; log:"
	cat "$logfile" >&2
done
die "could not start dynalite"
