#!/usr/bin/env bash
# Install and start what integration/clients needs, on a new Debian machine.
#
#   scripts/ci-clients.sh [ENVFILE]     install, start, write ENVFILE
#   scripts/ci-clients.sh --stop [ENVFILE]   stop the daemons ENVFILE names
#
# ENVFILE defaults to ${RUNNER_TEMP:-/tmp}/berth-clients.env. Source it before
# `go test ./integration/clients/...`; it exports DOCKER_HOST,
# CONTAINERD_ADDRESS, CONTAINERD_SNAPSHOTTER and a PATH with GOBIN first.
#
# What it does:
#   - apt-get installs docker.io, containerd (ctr), skopeo and busybox-static
#     (the tests build their base image from /bin/busybox: nothing is pulled
#     from the internet), when any of their commands is missing;
#   - go installs crane, oras and regctl at pinned versions into GOBIN
#     (in the background, while apt works);
#   - starts one containerd and one dockerd (vfs storage, no iptables, no
#     bridge) whose sockets, state and data live under a new /tmp directory
#     (short, for the 108-byte unix socket limit); dockerd uses that
#     containerd, and `ctr` talks to it too. Logs: <dir>/containerd.log and
#     <dir>/dockerd.log.
# If ENVFILE already names a dockerd and containerd that answer, they are
# reused.
set -euo pipefail

readonly CRANE="github.com/google/go-containerregistry/cmd/crane@v0.22.1"
readonly ORAS="oras.land/oras/cmd/oras@v1.3.6"
readonly REGCTL="github.com/regclient/regclient/cmd/regctl@v0.11.7"

log() { echo "ci-clients: $*" >&2; }
die() {
	log "$*"
	exit 1
}

stop=false
if [[ "${1:-}" == "--stop" ]]; then
	stop=true
	shift
fi
envfile="${1:-${RUNNER_TEMP:-/tmp}/berth-clients.env}"

if $stop; then
	[[ -f "$envfile" ]] || die "no $envfile"
	# shellcheck disable=SC1090
	source "$envfile"
	for p in "$BERTH_CLIENTS_DIR/docker.pid" "$BERTH_CLIENTS_DIR/containerd.pid"; do
		if [[ -f "$p" ]]; then kill "$(cat "$p")" 2>/dev/null || true; fi
	done
	log "stopped the daemons under $BERTH_CLIENTS_DIR"
	exit 0
fi

start=$(date +%s)
gobin="$(go env GOBIN)"
[[ -n "$gobin" ]] || gobin="$(go env GOPATH)/bin"

# Go tools: CPU-bound, so they overlap well with apt's downloads.
gotools_log=$(mktemp /tmp/berth-gotools.XXXXXX.log)
(
	set -e
	for m in "$CRANE" "$ORAS" "$REGCTL"; do
		GOBIN="$gobin" GOFLAGS=-buildvcs=false go install "$m"
	done
) >"$gotools_log" 2>&1 &
gotools_pid=$!

# Debian packages.
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v containerd >/dev/null && command -v ctr >/dev/null || need+=(containerd)
command -v runc >/dev/null || need+=(runc)
command -v skopeo >/dev/null || need+=(skopeo)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
if ((${#need[@]})); then
	log "apt-get install ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	# policy-rc.d 101: packages must not try to start services here; this
	# script starts them itself, with its own sockets and data.
	created_policy=false
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		created_policy=true
	fi
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/tmp/berth-apt.log 2>&1 ||
		{ tail -20 /tmp/berth-apt.log >&2; die "apt-get install failed"; }
	$created_policy && rm -f /usr/sbin/policy-rc.d
fi
log "packages ready after $(($(date +%s) - start))s"

# Reuse running daemons when the env file names live ones.
if [[ -f "$envfile" ]] && (
	# shellcheck disable=SC1090
	source "$envfile"
	docker version >/dev/null 2>&1 && ctr version >/dev/null 2>&1
); then
	log "reusing the daemons named in $envfile"
	dir=$(sed -n 's/^export BERTH_CLIENTS_DIR=//p' "$envfile")
else
	dir=$(mktemp -d /tmp/berth-clients.XXXXXX)
	mkdir -p "$dir/containerd/root" "$dir/containerd/state" "$dir/docker" "$dir/exec"
	cat >"$dir/containerd.toml" <<EOF
version = 2
root = "$dir/containerd/root"
state = "$dir/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$dir/containerd.sock"
EOF
	setsid containerd --config "$dir/containerd.toml" >"$dir/containerd.log" 2>&1 </dev/null &
	echo $! >"$dir/containerd.pid"
	for _ in $(seq 1 100); do
		ctr --address "$dir/containerd.sock" version >/dev/null 2>&1 && break
		sleep 0.2
	done
	ctr --address "$dir/containerd.sock" version >/dev/null 2>&1 ||
		{ tail -20 "$dir/containerd.log" >&2; die "containerd did not start"; }

	setsid dockerd \
		--data-root "$dir/docker" --exec-root "$dir/exec" \
		--pidfile "$dir/docker.pid" --host "unix://$dir/docker.sock" \
		--containerd "$dir/containerd.sock" \
		--storage-driver=vfs --iptables=false --ip6tables=false --bridge=none \
		>"$dir/dockerd.log" 2>&1 </dev/null &
	for _ in $(seq 1 150); do
		DOCKER_HOST="unix://$dir/docker.sock" docker version >/dev/null 2>&1 && break
		sleep 0.2
	done
	DOCKER_HOST="unix://$dir/docker.sock" docker version >/dev/null 2>&1 ||
		{ tail -20 "$dir/dockerd.log" >&2; die "dockerd did not start"; }
fi
log "daemons ready after $(($(date +%s) - start))s"

if ! wait "$gotools_pid"; then
	cat "$gotools_log" >&2
	die "go install of crane, oras or regctl failed"
fi
rm -f "$gotools_log"

mkdir -p "$(dirname "$envfile")"
cat >"$envfile" <<EOF
export BERTH_CLIENTS_DIR=$dir
export DOCKER_HOST=unix://$dir/docker.sock
export CONTAINERD_ADDRESS=$dir/containerd.sock
export CONTAINERD_SNAPSHOTTER=native
export PATH=$gobin:\$PATH
EOF
# shellcheck disable=SC1090
source "$envfile"
log "docker $(docker version --format '{{.Server.Version}}'), $(ctr version | sed -n 's/^ *Version: *//p' | tail -1 | sed 's/^/containerd /'), $(skopeo --version), crane $(crane version), oras $(oras version | sed -n 's/^Version: *//p'), regctl $(regctl version --format '{{.VCSTag}}' 2>/dev/null || echo '?')"
log "ready in $(($(date +%s) - start))s; source $envfile"
cat "$envfile"
