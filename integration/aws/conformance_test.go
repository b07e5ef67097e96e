package aws

import (
	"testing"

	"github.com/berth-registry/berth/integration/harness"
)

// TestConformanceOnAWSBackend runs the pinned OCI conformance suite
// (every API and data test, as scripts/conformance.sh enables them)
// against the registry on the aws backend, authenticated as the
// bootstrap admin, and requires 0 failures.
func TestConformanceOnAWSBackend(t *testing.T) {
	if testing.Short() {
		t.Skip("the OCI conformance suite is skipped under -short")
	}
	e := startAWS(t, true)
	harness.Conformance(t, "http://"+e.host, map[string]string{
		"OCI_USERNAME": "dev/admin", "OCI_PASSWORD": e.local.AdminToken,
		"OCI_REPO1": "dev/conformance/a", "OCI_REPO2": "dev/conformance/b",
	})
}
