#!/usr/bin/env bash
# Push throughput of a large image, all on loopback:
#
#   scripts/push-bench.sh [SIZE_MB]        (default 1000)
#
#   1. docker push to distribution v3 (the reference registry, filesystem
#      storage): what docker does against a registry without limits;
#   2. berth push of the same image (its `docker save` archive) to Berth's
#      local gateway with AWS limits on: direct uploads, parallel parts;
#   3. docker push through berth proxy to the same gateway.
#
# The image has one layer: SIZE_MB of random (incompressible) data. Each
# line reports seconds and MB/s of the layer's uncompressed size
# (1 MB = 10^6 bytes). Needs docker with a daemon (scripts/ci-clients.sh)
# and Go; distribution v3's registry is built once from the Go module
# proxy into ${BERTH_TOOLS:-~/.cache/berth-tools}. BERTH_BIN names a berth
# binary to use instead of building ./cmd/berth.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly SIZE_MB="${1:-1000}"
readonly DIST_VERSION="v3.0.0"
tools="${BERTH_TOOLS:-$HOME/.cache/berth-tools}"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/berth-push-bench.XXXXXX")"
pids=()
images=()

log() { echo "push-bench: $*" >&2; }
die() {
	log "$*"
	exit 1
}
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	for i in "${images[@]}"; do docker rmi -f "$i" >/dev/null 2>&1 || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
# report NAME START END: seconds and MB/s of the layer.
report() { awk -v n="$1" -v s="$2" -v e="$3" -v mb="$SIZE_MB" 'BEGIN { t = e - s; printf "%-40s %7.1f s  %7.1f MB/s\n", n, t, mb / t }'; }
wait_http() {
	for _ in $(seq 1 200); do
		curl -s -o /dev/null "$1" && return 0
		sleep 0.1
	done
	die "nothing answers at $1"
}

command -v docker >/dev/null && docker version >/dev/null 2>&1 || die "docker with a running daemon is required (scripts/ci-clients.sh)"

# Tools.
dist="$tools/distribution-$DIST_VERSION/registry"
if [[ ! -x "$dist" ]]; then
	log "building distribution $DIST_VERSION's registry into $(dirname "$dist")"
	GOBIN="$(dirname "$dist")" go install "github.com/distribution/distribution/v3/cmd/registry@$DIST_VERSION"
fi
berth="${BERTH_BIN:-}"
if [[ -z "$berth" ]]; then
	berth="$tmp/berth"
	go build -o "$berth" ./cmd/berth
fi
"$berth" push --help >/dev/null 2>&1 || die "$berth has no push command (wire cmd/berth/push.go into the CLI's command list)"

# Registries.
dport=$(free_port)
cat >"$tmp/dist.yml" <<EOF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $tmp/dist}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$dport}
EOF
"$dist" serve "$tmp/dist.yml" >"$tmp/dist.log" 2>&1 &
pids+=($!)
bport=$(free_port)
BERTH_DATA="$tmp/berth-data" BERTH_ADDR="127.0.0.1:$bport" BERTH_LOG_LEVEL=warn "$berth" serve >"$tmp/berth.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$dport/v2/"
wait_http "http://127.0.0.1:$bport/v2/"
token="$(cat "$tmp/berth-data/admin-token")"

# The image: one layer of SIZE_MB random bytes.
log "generating a ${SIZE_MB} MB layer"
mkdir -p "$tmp/rootfs"
head -c "$((SIZE_MB * 1000 * 1000))" /dev/urandom >"$tmp/rootfs/data.bin"
tar -C "$tmp/rootfs" -cf "$tmp/layer.tar" .
rm -rf "$tmp/rootfs"
src="berth-push-bench:$$"
docker import "$tmp/layer.tar" "$src" >/dev/null
images+=("$src")
rm -f "$tmp/layer.tar"
docker save -o "$tmp/image.tar" "$src"

echo "push of a ${SIZE_MB} MB image (one incompressible layer), loopback, $(nproc) cores"

ref="127.0.0.1:$dport/bench:1"
docker tag "$src" "$ref"
images+=("$ref")
s=$(now)
docker push -q "$ref" >/dev/null
report "docker push -> distribution $DIST_VERSION" "$s" "$(now)"

s=$(now)
echo "$token" | "$berth" push --progress plain --state-dir "$tmp/state" -u dev/admin --password-stdin \
	"docker-archive:$tmp/image.tar" "127.0.0.1:$bport/dev/bench:1" >"$tmp/push.log"
report "berth push -> berth (embedded, AWS limits)" "$s" "$(now)"

pport=$(free_port)
echo "$token" | "$berth" proxy --listen "127.0.0.1:$pport" --registry "http://127.0.0.1:$bport" \
	-u dev/admin --password-stdin >"$tmp/proxy.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$pport/v2/"
ref="127.0.0.1:$pport/dev/bench-proxy:1"
docker tag "$src" "$ref"
images+=("$ref")
s=$(now)
docker push -q "$ref" >/dev/null
report "docker push -> berth proxy -> berth" "$s" "$(now)"
