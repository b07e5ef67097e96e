package integration

import (
	"testing"

	"github.com/berth-registry/berth/integration/harness"
)

// TestConformanceSuitePassesAgainstLocalGateway runs the pinned OCI
// distribution-spec conformance suite (scripts/conformance.sh) against
// the in-process registry and requires every check to pass.
func TestConformanceSuitePassesAgainstLocalGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("the OCI conformance suite is skipped under -short")
	}
	host := startRegistry(t)
	harness.Conformance(t, "http://"+host, nil)
}
