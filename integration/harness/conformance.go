package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MinConformancePassed is the fewest passing checks a healthy run of the
// conformance suite has: the pinned suite with Berth's settings passes
// 787.
const MinConformancePassed = 700

// summaryLine is the script's last line: "conformance: N passed, M failed, K skipped".
var summaryLine = regexp.MustCompile(`(?m)^conformance: (\d+) passed, (\d+) failed, (\d+) skipped$`)

// proxyTrouble matches what `go mod download` prints when the module
// proxy cannot be reached (or module fetching is switched off).
var proxyTrouble = regexp.MustCompile(`dial tcp|no such host|connection refused|i/o timeout|` +
	`TLS handshake timeout|network is unreachable|proxyconnect|GOPROXY=off|GOFLAGS=-mod=vendor|` +
	`server misbehaving|temporary failure in name resolution|connection reset`)

// Conformance runs the pinned OCI distribution-spec conformance suite
// (scripts/conformance.sh) against registryURL (http://host:port), with
// env (OCI_USERNAME, OCI_REPO1, ...) added to the environment and the
// results in a temporary directory. It builds the suite first (or finds
// it cached); when that fails because the Go module proxy cannot be
// reached, the test skips — except in CI (CI=true), where a missing suite
// is a failure. The test fails unless the suite ran with no failures and
// more than MinConformancePassed checks passed. It returns the counts of
// the summary line.
func Conformance(t testing.TB, registryURL string, env map[string]string) (passed, failed, skipped int) {
	t.Helper()
	script := conformanceScript(t)
	buildConformance(t, script)

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script, registryURL)
	cmd.Env = append(os.Environ(), "OCI_RESULTS_DIR="+t.TempDir())
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()

	passed, failed, skipped, err := parseSummary(out.String())
	if err != nil {
		t.Fatalf("%v (script: %v); output:\n%s", err, runErr, out.String())
	}
	t.Logf("conformance suite against %s: %d passed, %d failed, %d skipped", registryURL, passed, failed, skipped)
	if failed != 0 || passed <= MinConformancePassed {
		t.Fatalf("want 0 failed and more than %d passed, got %d passed, %d failed; output:\n%s",
			MinConformancePassed, passed, failed, out.String())
	}
	if runErr != nil {
		t.Fatalf("conformance.sh: %v; output:\n%s", runErr, out.String())
	}
	return passed, failed, skipped
}

// conformanceScript finds scripts/conformance.sh in the module the test
// runs in: go test runs a test in its package's directory.
func conformanceScript(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "scripts", "conformance.sh")
		} else if !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory, so no scripts/conformance.sh")
		}
		dir = parent
	}
}

// buildConformance builds (or finds cached) the suite's binary, skipping
// or failing as Conformance says.
func buildConformance(t testing.TB, script string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", script, "--build-only").CombinedOutput()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("building the OCI conformance suite (%s --build-only) failed: %v\n%s", script, err, out)
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

// parseSummary reads the last summary line of the script's output.
func parseSummary(out string) (passed, failed, skipped int, err error) {
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
