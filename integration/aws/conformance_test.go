package aws

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// conformanceScript is scripts/conformance.sh, relative to this package.
const conformanceScript = "../../scripts/conformance.sh"

// summaryLine is the script's last line.
var summaryLine = regexp.MustCompile(`(?m)^conformance: (\d+) passed, (\d+) failed, (\d+) skipped$`)

// proxyTrouble matches `go mod download` failing to reach the proxy.
var proxyTrouble = regexp.MustCompile(`dial tcp|no such host|connection refused|i/o timeout|` +
	`TLS handshake timeout|network is unreachable|proxyconnect|GOPROXY=off|GOFLAGS=-mod=vendor|` +
	`server misbehaving|temporary failure in name resolution|connection reset`)

// TestConformanceOnAWSBackend runs the pinned OCI conformance suite
// (every API and data test, as scripts/conformance.sh enables them)
// against the registry on the aws backend, authenticated as the
// bootstrap admin, and requires 0 failures.
func TestConformanceOnAWSBackend(t *testing.T) {
	if testing.Short() {
		t.Skip("the OCI conformance suite is skipped under -short")
	}
	e := startAWS(t, true)
	buildConformanceSuite(t)

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", conformanceScript, "http://"+e.host)
	cmd.Env = append(os.Environ(),
		"OCI_RESULTS_DIR="+t.TempDir(),
		"OCI_USERNAME=dev/admin", "OCI_PASSWORD="+e.local.AdminToken,
		"OCI_REPO1=dev/conformance/a", "OCI_REPO2=dev/conformance/b")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	runErr := cmd.Run()

	all := summaryLine.FindAllStringSubmatch(out.String(), -1)
	if len(all) == 0 {
		t.Fatalf("no summary line (script: %v); output:\n%s", runErr, out.String())
	}
	n := make([]int, 3)
	for i := range n {
		n[i], _ = strconv.Atoi(all[len(all)-1][i+1])
	}
	t.Logf("conformance suite on the aws backend: %d passed, %d failed, %d skipped", n[0], n[1], n[2])
	if n[1] != 0 || n[0] < 700 || runErr != nil {
		t.Fatalf("want 0 failed and at least 700 passed (script: %v); output:\n%s", runErr, out.String())
	}
}

// buildConformanceSuite builds (or finds cached) the suite. When the Go
// module proxy cannot be reached it skips, except with CI=true.
func buildConformanceSuite(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "bash", conformanceScript, "--build-only").CombinedOutput()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("building the OCI conformance suite failed: %v\n%s", err, out)
	if !proxyTrouble.Match(out) || os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skipf("skipping: the Go module proxy is unreachable and no cached suite exists.\n%s", msg)
}
