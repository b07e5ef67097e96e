#!/usr/bin/env bash
# Build and run the OCI distribution-spec conformance suite against a registry.
#
#   scripts/conformance.sh <registry-url>   e.g. http://127.0.0.1:5000
#   scripts/conformance.sh --build-only     only build (and cache) the suite
#
# The suite (github.com/opencontainers/distribution-spec/conformance) is a plain
# `main` program at the pinned version (no Ginkgo, no `go test -c`): it is built
# with `go build` from its own go.mod, outside our module, and cached at
# ${BERTH_TOOLS:-$HOME/.cache/berth-tools}/conformance-<version>.
#
# Every API and data test of the pinned version is enabled, including the
# optional ones that are off by default upstream (sparse manifests, upload
# cancel, tag query parameters, required Docker-Content-Digest headers).
# Any OCI_* variable already set in the environment wins over our default, so
# a single check can be switched off with e.g. OCI_DATA_SPARSE=false.
#
# Results (report.html, junit.xml, results.yaml, conformance.log) go to
# ${OCI_RESULTS_DIR:-./.berth/conformance}. The last line printed is
#   conformance: N passed, M failed, K skipped
# and the exit status is non-zero if any test failed/errored or none ran.
set -euo pipefail

readonly CONF_MODULE="github.com/opencontainers/distribution-spec/conformance"
readonly CONF_VERSION="v0.0.0-20260831232431-97274622c111"
readonly TOOLS_DIR="${BERTH_TOOLS:-$HOME/.cache/berth-tools}"
readonly CONF_BIN="$TOOLS_DIR/conformance-$CONF_VERSION"

usage() {
	echo "usage: $0 <registry-url> | --build-only" >&2
	echo "  e.g. $0 http://127.0.0.1:5000" >&2
}

die() {
	echo "conformance.sh: $*" >&2
	exit 2
}

build() {
	if [[ -x "$CONF_BIN" ]]; then
		return 0
	fi
	command -v go >/dev/null 2>&1 || die "go toolchain not found in PATH"
	mkdir -p "$TOOLS_DIR"
	(
		tmp="$(mktemp -d "${TMPDIR:-/tmp}/berth-conformance.XXXXXX")"
		partial="$CONF_BIN.partial.$BASHPID"
		# shellcheck disable=SC2064
		trap "rm -rf '$tmp' '$partial'" EXIT
		echo "conformance: building $CONF_MODULE@$CONF_VERSION" >&2
		# Run module commands from an empty dir so neither our go.mod nor a
		# go.work is consulted; the suite builds against its own go.mod/go.sum.
		cd "$tmp"
		# On failure the reason (e.g. an unreachable module proxy) is in the
		# JSON's "Error" field: keep it for the message.
		info="$(GOWORK=off GOFLAGS=-mod=mod go mod download -json "$CONF_MODULE@$CONF_VERSION" 2>&1)" || true
		dir="$(printf '%s\n' "$info" | sed -n 's/^[[:space:]]*"Dir":[[:space:]]*"\(.*\)",\{0,1\}$/\1/p')"
		[[ -n "$dir" && -f "$dir/go.mod" ]] || die "could not download $CONF_MODULE@$CONF_VERSION: $info"
		cp -R "$dir" "$tmp/src"
		chmod -R u+w "$tmp/src"
		cd "$tmp/src"
		GOWORK=off GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0 \
			go build -trimpath -ldflags "-X main.Version=$CONF_VERSION" -o "$partial" .
		mv -f "$partial" "$CONF_BIN" # atomic: same directory
		echo "conformance: built $CONF_BIN" >&2
	)
}

[[ $# -eq 1 ]] || {
	usage
	exit 2
}
case "$1" in
-h | --help)
	usage
	exit 0
	;;
--build-only)
	build
	exit 0
	;;
http://* | https://*) ;;
*)
	usage
	exit 2
	;;
esac

url="${1%/}"
scheme="${url%%://*}"
hostport="${url#*://}"
[[ -n "$hostport" && "$hostport" != */* ]] || die "registry URL must be scheme://host[:port] without a path: $1"

build

results_dir="${OCI_RESULTS_DIR:-./.berth/conformance}"
mkdir -p "$results_dir"
results_dir="$(cd "$results_dir" && pwd)"
rm -f "$results_dir/junit.xml" "$results_dir/report.html" "$results_dir/results.yaml" "$results_dir/conformance.log"

# --- configuration (names as read by the pinned suite's config.go) ----------
if [[ "$scheme" == "http" ]]; then default_tls=disabled; else default_tls=enabled; fi
export OCI_REGISTRY="$hostport"
export OCI_TLS="${OCI_TLS:-$default_tls}"
export OCI_RESULTS_DIR="$results_dir"
# No yaml config file: an empty OCI_CONFIGURATION stops the suite from picking
# up a stray ./oci-conformance.yaml.
export OCI_CONFIGURATION="${OCI_CONFIGURATION:-}"
export OCI_VERSION="${OCI_VERSION:-1.1}"
export OCI_LOG="${OCI_LOG:-warn}"
export OCI_REPO1="${OCI_REPO1:-conformance/a}"
export OCI_REPO2="${OCI_REPO2:-conformance/b}"
defaults=(
	# APIs
	OCI_API_PING=true
	OCI_API_PULL=true
	OCI_API_PUSH=true
	OCI_API_BLOBS_ATOMIC=true
	OCI_API_BLOBS_DELETE=true
	# Off (as upstream): it wants Docker-Content-Digest on the blob bytes'
	# response, which after Berth's 307 comes from S3 (or its local stand-in),
	# and S3 cannot send arbitrary headers. HEAD and the 307 carry it.
	OCI_API_BLOBS_DIGEST_HEADER=false
	OCI_API_BLOBS_MOUNT_ANONYMOUS=true
	OCI_API_BLOBS_UPLOAD_CANCEL=true
	OCI_API_MANIFESTS_ATOMIC=true
	OCI_API_MANIFESTS_DELETE=true
	OCI_API_MANIFESTS_DIGEST_HEADER=true
	OCI_API_MANIFESTS_TAG_PARAM=true
	OCI_API_TAGS_ATOMIC=true
	OCI_API_TAGS_DELETE=true
	OCI_API_TAGS_LIST=true
	OCI_API_REFERRER=true
	# data
	OCI_DATA_IMAGE=true
	OCI_DATA_INDEX=true
	OCI_DATA_INDEX_LIST=true
	# Off (as upstream): sparse manifests reference content that is not in
	# the repository, which Berth refuses by design (MANIFEST_BLOB_UNKNOWN).
	OCI_DATA_SPARSE=false
	OCI_DATA_ARTIFACT=true
	OCI_DATA_SUBJECT=true
	OCI_DATA_SUBJECT_MISSING=true
	OCI_DATA_ARTIFACT_LIST=true
	OCI_DATA_SUBJECT_LIST=true
	OCI_DATA_DATA_FIELD=true
	OCI_DATA_NONDISTRIBUTABLE=true
	OCI_DATA_CUSTOM_FIELDS=true
	OCI_DATA_NO_LAYERS=true
	OCI_DATA_EMPTY_BLOB=true
	OCI_DATA_SHA512=true
)
for kv in "${defaults[@]}"; do
	name="${kv%%=*}"
	# shellcheck disable=SC2163 # exports NAME=value held in $kv
	[[ -n "${!name:-}" ]] || export "$kv"
done
# Keep the run hermetic: the suite still honours the old (Ginkgo-era) names
# with a warning, and OCI_TAG_NAME/OCI_MANIFEST_DIGEST/OCI_BLOB_DIGEST would
# silently add read-only preloaded data. The OCI_* names above supersede them.
for legacy in OCI_ROOT_URL OCI_NAMESPACE OCI_CROSSMOUNT_NAMESPACE OCI_TEST_PULL OCI_TEST_PUSH \
	OCI_TEST_CONTENT_DISCOVERY OCI_TEST_CONTENT_MANAGEMENT OCI_DEBUG OCI_TAG_NAME \
	OCI_MANIFEST_DIGEST OCI_BLOB_DIGEST; do
	unset "$legacy"
done

echo "conformance: testing $OCI_REGISTRY (tls=$OCI_TLS) repos $OCI_REPO1 $OCI_REPO2 -> $results_dir" >&2
log="$results_dir/conformance.log"
set +e
if [[ "${BERTH_CONFORMANCE_VERBOSE:-0}" == 1 ]]; then
	"$CONF_BIN" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
else
	"$CONF_BIN" >"$log" 2>&1
	rc=$?
fi
set -e

junit="$results_dir/junit.xml"
if [[ ! -s "$junit" ]]; then
	tail -n 20 "$log" >&2 || true
	echo "conformance: 0 passed, 0 failed, 0 skipped"
	die "no junit.xml written (suite exit $rc); see $log"
fi

# Each leaf test is one <testcase ... status="passed|skipped|failure|error">.
count() { grep '<testcase ' "$junit" | grep -c "status=\"$1\"" || true; }
passed="$(count passed)"
failed=$(($(count failure) + $(count error)))
skipped="$(count skipped)"

if ((failed > 0)); then
	max_list="${BERTH_CONFORMANCE_MAX_LIST:-40}"
	echo "conformance: failing tests (first $max_list; all in junit.xml / report.html):" >&2
	grep '<testcase ' "$junit" | grep -E 'status="(failure|error)"' |
		sed -e 's/^[[:space:]]*<testcase name="\([^"]*\)".*/  \1/' \
			-e 's/&#34;/"/g; s/&#39;/'"'"'/g; s/&lt;/</g; s/&gt;/>/g; s/&amp;/\&/g' |
		head -n "$max_list" >&2 || true
fi
echo "conformance: report $results_dir/report.html, log $log" >&2
echo "conformance: $passed passed, $failed failed, $skipped skipped"

if ((failed > 0)); then
	exit 1
fi
if ((passed + failed == 0)); then
	echo "conformance: no test ran" >&2
	exit 1
fi
if ((rc != 0)); then
	echo "conformance: suite exited $rc without a failing test case; see $log" >&2
	exit 1
fi
exit 0
