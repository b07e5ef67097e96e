package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// conformanceScript is scripts/conformance.sh, relative to this package.
const conformanceScript = "../scripts/conformance.sh"

// minConformancePassed is the fewest passing checks a healthy run has:
// the pinned suite with Berth's settings passes 787.
const minConformancePassed = 700

// summaryLine is the script's last line: "conformance: N passed, M failed, K skipped".
var summaryLine = regexp.MustCompile(`(?m)^conformance: (\d+) passed, (\d+) failed, (\d+) skipped$`)

// proxyTrouble matches what `go mod download` prints when the module
// proxy cannot be reached (or module fetching is switched off).
var proxyTrouble = regexp.MustCompile(`dial tcp|no such host|connection refused|i/o timeout|` +
	`TLS handshake timeout|network is unreachable|proxyconnect|GOPROXY=off|GOFLAGS=-mod=vendor|` +
	`server misbehaving|temporary failure in name resolution|connection reset`)

// TestConformanceSuitePassesAgainstLocalGateway runs the pinned OCI
// distribution-spec conformance suite (scripts/conformance.sh) against
// the in-process registry and requires every check to pass.
func TestConformanceSuitePassesAgainstLocalGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("the OCI conformance suite is skipped under -short")
	}
	buildConformanceSuite(t)
	host := startRegistry(t)

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", conformanceScript, "http://"+host)
	cmd.Env = append(os.Environ(), "OCI_RESULTS_DIR="+t.TempDir())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()

	passed, failed, skipped, err := parseConformanceSummary(out.String())
	if err != nil {
		t.Fatalf("%v (script: %v); output:\n%s", err, runErr, out.String())
	}
	t.Logf("conformance suite: %d passed, %d failed, %d skipped", passed, failed, skipped)
	if failed != 0 || passed <= minConformancePassed {
		t.Fatalf("want 0 failed and more than %d passed, got %d passed, %d failed; output:\n%s",
			minConformancePassed, passed, failed, out.String())
	}
	if runErr != nil {
		t.Fatalf("conformance.sh: %v; output:\n%s", runErr, out.String())
	}
}

// buildConformanceSuite builds (or finds cached) the suite's binary. If
// that fails because the Go module proxy cannot be reached, the test
// skips — except in CI (CI=true), where a missing suite is a failure.
func buildConformanceSuite(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", conformanceScript, "--build-only").CombinedOutput()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("building the OCI conformance suite (%s --build-only) failed: %v\n%s", conformanceScript, err, out)
	if !proxyTrouble.Match(out) {
		t.Fatal(msg)
	}
	missing := "the Go module proxy (GOPROXY) is unreachable, so github.com/opencontainers/distribution-spec/conformance " +
		"cannot be downloaded and no cached build exists in $BERTH_TOOLS (default ~/.cache/berth-tools)"
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; CI=true, so this fails instead of skipping.\n%s", missing, msg)
	}
	t.Skipf("skipping: %s.\n%s", missing, msg)
}

// parseConformanceSummary reads the last summary line of the script's
// output.
func parseConformanceSummary(out string) (passed, failed, skipped int, err error) {
	all := summaryLine.FindAllStringSubmatch(out, -1)
	if len(all) == 0 {
		return 0, 0, 0, fmt.Errorf("no %q line in the output of conformance.sh", "conformance: N passed, M failed, K skipped")
	}
	m := all[len(all)-1]
	n := make([]int, 3)
	for i := range n {
		if n[i], err = strconv.Atoi(m[i+1]); err != nil {
			return 0, 0, 0, fmt.Errorf("summary line %q: %w", strings.TrimSpace(m[0]), err)
		}
	}
	return n[0], n[1], n[2], nil
}
