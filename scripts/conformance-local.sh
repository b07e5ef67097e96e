#!/usr/bin/env bash
# Run the OCI conformance suite against a fresh local gateway (make conformance).
#
#   scripts/conformance-local.sh
#
# Starts `go run ./cmd/berth serve` on a free 127.0.0.1 port (BERTH_ADDR=
# 127.0.0.1:0; the port is read from the URL the server prints) with an
# empty temporary BERTH_DATA, waits until /v2/ answers, runs
# scripts/conformance.sh against it (logged in as the bootstrap admin,
# into <tenancy>/conformance/{a,b}, unless BERTH_AUTH=off), stops the
# server and exits with the suite's status. Results go where
# conformance.sh puts them (${OCI_RESULTS_DIR:-./.berth/conformance}); the
# server's log is shown only if it fails to start.
set -euo pipefail

cd "$(dirname "$0")/.."

readonly START_TIMEOUT="${BERTH_START_TIMEOUT:-300}" # seconds; includes compiling
tmp="$(mktemp -d "${TMPDIR:-/tmp}/berth-conformance-local.XXXXXX")"
log="$tmp/serve.log"
pid=""

stop_server() {
	[[ -n "$pid" ]] || return 0
	# The server runs in its own process group (go run and the berth binary
	# it starts): signal the group, then wait for it to go.
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 100); do
		kill -0 -- "-$pid" 2>/dev/null || kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=""
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	stop_server
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Build (or find cached) the suite first, so the server is not left idle
# while the suite compiles.
scripts/conformance.sh --build-only

export BERTH_ADDR=127.0.0.1:0 BERTH_DATA="$tmp/data"
if command -v setsid >/dev/null 2>&1; then
	setsid go run ./cmd/berth serve >"$log" 2>&1 &
else
	# No setsid (e.g. macOS): run the binary itself, so its pid is the
	# process to stop.
	go build -o "$tmp/berth" ./cmd/berth
	"$tmp/berth" serve >"$log" 2>&1 &
fi
pid=$!

# The server prints "Berth registry on http://HOST:PORT (...)" once it listens.
hostport=""
deadline=$((SECONDS + START_TIMEOUT))
while [[ -z "$hostport" ]]; do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "conformance-local: berth serve exited before listening; its log:" >&2
		cat "$log" >&2
		exit 1
	fi
	if ((SECONDS >= deadline)); then
		echo "conformance-local: berth serve did not start within ${START_TIMEOUT}s; its log:" >&2
		cat "$log" >&2
		exit 1
	fi
	hostport="$(sed -n 's|^Berth registry on http://\([0-9.]*:[0-9]*\).*|\1|p' "$log" | head -n 1)"
	[[ -n "$hostport" ]] || sleep 0.2
done

# GET /v2/ with bash's /dev/tcp (curl may not be installed): 200, or 401
# once auth is on, means the registry answers.
v2_status() {
	local host="${hostport%:*}" port="${hostport##*:}" line
	exec 3<>"/dev/tcp/$host/$port" || return 1
	printf 'GET /v2/ HTTP/1.0\r\nHost: %s\r\n\r\n' "$hostport" >&3
	IFS= read -r -t 10 line <&3 || line=""
	exec 3<&- 3>&-
	line="${line%$'\r'}"
	echo "${line#* }" | cut -d' ' -f1
}
until status="$(v2_status 2>/dev/null)" && [[ "$status" == 200 || "$status" == 401 ]]; do
	if ((SECONDS >= deadline)); then
		echo "conformance-local: GET http://$hostport/v2/ did not answer 200 or 401 (last: ${status:-none}); log:" >&2
		cat "$log" >&2
		exit 1
	fi
	sleep 0.2
done
echo "conformance-local: berth serve is up on http://$hostport" >&2

# Authentication is on unless BERTH_AUTH=off (as with make run): the suite
# logs in as the bootstrap admin, whose token the server keeps in
# BERTH_DATA, and pushes into repositories of the admin's tenancy.
tenancy="${BERTH_TENANCY:-dev}"
if [[ "${BERTH_AUTH:-on}" != off ]]; then
	token="${BERTH_ADMIN_TOKEN:-}"
	[[ -n "$token" ]] || token="$(tr -d '[:space:]' <"$BERTH_DATA/admin-token")"
	export OCI_USERNAME="$tenancy/admin" OCI_PASSWORD="$token"
fi
export OCI_REPO1="${OCI_REPO1:-$tenancy/conformance/a}" OCI_REPO2="${OCI_REPO2:-$tenancy/conformance/b}"

set +e
scripts/conformance.sh "http://$hostport"
rc=$?
set -e
stop_server
exit "$rc"
